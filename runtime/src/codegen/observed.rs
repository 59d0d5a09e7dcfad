//! The channel of a generated client, under tonic's client: what the caller sees of a call's end
//! is settled here, for every kind of call, before tonic reads it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use tonic::Status;
use tonic::body::Body as TonicBody;
use tonic::client::GrpcService;
use tonic::codegen::{Body, Bytes, Service, StdError, http};
use tonic::metadata::MetadataMap;

use super::intercept::final_status;
use super::size_limit::{ResponseFraming, SizeLimits, is_size_error, to_resource_exhausted};
use crate::interceptor::{Deadline, Hooks};
use crate::status::sanitize_status;
use crate::wire::GRPC_STATUS;

/// The channel of a generated client, watching every call: it repairs a final status tonic
/// would misread or panic on ([`sanitize_status`]); it ends a call RESOURCE_EXHAUSTED when a
/// message goes over the client's size limits ([`super::size_limit`]); and for calls that run
/// end hooks it records the response headers and trailers in the call's context and runs the
/// end hooks when the final status arrives.
#[derive(Debug, Clone)]
pub(crate) struct Observed<T>(pub(crate) T);

/// Where a request body puts the size error it failed with: the call ends with it, not with
/// the HTTP/2 reset that is all tonic would see of it.
type RequestFailure = Arc<OnceLock<Status>>;

impl<T> Service<http::Request<TonicBody>> for Observed<T>
where
    T: GrpcService<TonicBody>,
{
    type Response = http::Response<ObservedBody<T::ResponseBody>>;
    type Error = StdError;
    type Future = ObservedFuture<T::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<TonicBody>) -> Self::Future {
        let hooks = request.extensions().get::<Hooks>().cloned();
        let deadline = request.extensions().get::<Deadline>().map(|d| d.0);
        let limits = request.extensions().get::<SizeLimits>().copied();
        let limits = limits.unwrap_or_default();
        // Without an encoding limit (tonic's is `usize::MAX`) no request is too large.
        let failure = limits.encoding.map(|_| RequestFailure::default());
        let request = match &failure {
            None => request,
            Some(failure) => request.map(|inner| {
                TonicBody::new(SentBody {
                    inner,
                    failure: Arc::clone(failure),
                })
            }),
        };
        ObservedFuture {
            inner: self.0.call(request),
            hooks,
            deadline,
            decoding_limit: limits.decoding,
            failure,
        }
    }
}

/// A request body that keeps the size error tonic's encoder fails it with.
struct SentBody {
    inner: TonicBody,
    failure: RequestFailure,
}

impl Body for SentBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if let Some(Err(status)) = &frame
            && is_size_error(status)
        {
            self.failure.set(to_resource_exhausted(status.clone())).ok();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The error a call ends with when the transport fails it: the size error its request body
/// failed with, if that is why (tonic reads a `Status` in a boxed error back as it is).
fn failed(failure: Option<&Status>, error: impl Into<StdError>) -> StdError {
    match failure {
        Some(status) => Box::new(status.clone()),
        None => error.into(),
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`Observed`].
    pub(crate) struct ObservedFuture<F> {
        #[pin]
        inner: F,
        hooks: Option<Hooks>,
        deadline: Option<Instant>,
        decoding_limit: Option<usize>,
        failure: Option<RequestFailure>,
    }
}

impl<F, B, E> Future for ObservedFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    E: Into<StdError>,
{
    type Output = Result<http::Response<ObservedBody<B>>, StdError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = match ready!(this.inner.poll(cx)) {
            Ok(response) => response,
            Err(error) => {
                let failure = this.failure.as_ref().and_then(|failure| failure.get());
                return Poll::Ready(Err(failed(failure, error)));
            }
        };
        sanitize_status(response.headers_mut());
        let mut hooks = this.hooks.take();
        if let Some(hooks) = &hooks {
            *hooks.context.headers() = MetadataMap::from_headers(response.headers().clone());
        }
        // A trailers-only response carries the final status in its head; the generated
        // client's call ends with it (or tries again), not the body.
        if response.headers().contains_key(&GRPC_STATUS)
            && let Some(hooks) = hooks.take()
        {
            *hooks.context.trailers() = MetadataMap::from_headers(response.headers().clone());
        }
        let expiry = this
            .deadline
            .map(|at| Box::pin(tokio::time::sleep_until(at.into())));
        let failure = this.failure.take();
        Poll::Ready(Ok(response.map(|inner| ObservedBody {
            inner,
            hooks,
            expiry,
            framing: ResponseFraming::new(*this.decoding_limit),
            failure,
            end: None,
            ended: false,
        })))
    }
}

pin_project_lite::pin_project! {
    /// A response body of [`Observed`]: it records the trailers in the call's context, runs the
    /// end hooks of a response stream when its final status arrives, and ends the response
    /// early, as if the server had, at the call's deadline (`DEADLINE_EXCEEDED`) or before a
    /// message over the size limit (`RESOURCE_EXHAUSTED`).
    pub(crate) struct ObservedBody<B> {
        #[pin]
        inner: B,
        hooks: Option<Hooks>,
        expiry: Option<Pin<Box<tokio::time::Sleep>>>,
        framing: ResponseFraming,
        failure: Option<RequestFailure>,
        // The status to end with once the data before it is out.
        end: Option<Status>,
        ended: bool,
    }

    impl<B> PinnedDrop for ObservedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            // Dropped before the final status arrived: the caller gave up on the call.
            if let Some(hooks) = this.project().hooks.take() {
                end_stream(&hooks, &Status::cancelled("the response was dropped before it ended"));
            }
        }
    }
}

/// Runs the end hooks of a call whose response is a stream: the body sees its end. Any other
/// call ends in the generated client's method, which may also send it again.
fn end_stream(hooks: &Hooks, status: &Status) {
    if hooks.context.method().kind().is_server_streaming() {
        hooks.on_end(status);
    }
}

/// Repairs the final status if `frame` is the trailers, records them in the call's context and
/// runs a response stream's end hooks.
fn observe(
    mut frame: http_body::Frame<Bytes>,
    hooks: &mut Option<Hooks>,
) -> http_body::Frame<Bytes> {
    if let Some(trailers) = frame.trailers_mut() {
        sanitize_status(trailers);
        if let Some(hooks) = hooks.take() {
            *hooks.context.trailers() = MetadataMap::from_headers(trailers.clone());
            // Read only for a response stream's end hooks: any other call ends in the
            // generated client's method, which reads the status tonic makes.
            if hooks.context.method().kind().is_server_streaming() {
                hooks.on_end(&final_status(trailers));
            }
        }
    }
    frame
}

/// Final trailers that say `status`.
fn trailers_of(status: &Status) -> http_body::Frame<Bytes> {
    let mut trailers = http::HeaderMap::new();
    status.add_header(&mut trailers).ok();
    http_body::Frame::trailers(trailers)
}

impl<B> Body for ObservedBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<StdError>,
{
    type Data = Bytes;
    type Error = StdError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, StdError>>> {
        let this = self.project();
        if *this.ended {
            return Poll::Ready(None);
        }
        if let Some(status) = this.end.take() {
            *this.ended = true;
            return Poll::Ready(Some(Ok(observe(trailers_of(&status), this.hooks))));
        }
        let expired = this
            .expiry
            .as_mut()
            .is_some_and(|expiry| expiry.as_mut().poll(cx).is_ready());
        if expired {
            *this.ended = true;
            // The deadline passed: the response ends here, as if the server had said so.
            let status = Status::deadline_exceeded("deadline exceeded");
            return Poll::Ready(Some(Ok(observe(trailers_of(&status), this.hooks))));
        }
        let frame = match ready!(this.inner.poll_frame(cx)) {
            Some(Ok(frame)) => frame,
            Some(Err(error)) => {
                let failure = this.failure.as_ref().and_then(|failure| failure.get());
                if let Some(hooks) = this.hooks.take() {
                    let failed_body = Status::unavailable("the response body failed");
                    end_stream(&hooks, failure.unwrap_or(&failed_body));
                }
                return Poll::Ready(Some(Err(failed(failure, error))));
            }
            None => {
                if let Some(hooks) = this.hooks.take() {
                    end_stream(
                        &hooks,
                        &Status::internal("the response ended without a status"),
                    );
                }
                return Poll::Ready(None);
            }
        };
        let frame = match frame.into_data() {
            Ok(data) => match this.framing.scan(&data) {
                None => http_body::Frame::data(data),
                Some((0, status)) => {
                    *this.ended = true;
                    trailers_of(&status)
                }
                // The messages before it first: the caller gets them, then the status.
                Some((at, status)) => {
                    *this.end = Some(status);
                    http_body::Frame::data(data.slice(..at))
                }
            },
            Err(frame) => frame,
        };
        Poll::Ready(Some(Ok(observe(frame, this.hooks))))
    }

    fn is_end_stream(&self) -> bool {
        self.ended || (self.end.is_none() && self.inner.is_end_stream())
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
