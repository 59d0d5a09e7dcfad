//! How the call chain reaches every message and the end of a call: a codec that runs the
//! per-message hooks as messages are decoded and encoded, and a response body that adds the
//! trailers of handlers and interceptors to the final trailers and runs the end hooks.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use tonic::body::Body as TonicBody;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::HeaderMap;
use tonic::codegen::{Body, Bytes, http};
use tonic::{Code, Status};

use super::size_limit::map_headers;
use crate::MethodInfo;
use crate::interceptor::{AnyMessage, Hooks};
use crate::interceptors::Recovery;
use crate::metadata::{ResponseTrailers, merge_trailers};
use crate::wire::{GRPC_MESSAGE, GRPC_STATUS, GRPC_STATUS_DETAILS};

/// The [`Access`](crate::interceptor::Access) of a payload that is one message.
pub(crate) fn single<'x, M>(message: &'x mut M, name: &'static str) -> Option<AnyMessage<'x>>
where
    M: prost::Message + std::fmt::Debug + 'static,
{
    Some(AnyMessage::new(message, name))
}

/// The [`Access`](crate::interceptor::Access) of a payload that is a stream: none, its messages
/// pass the codec's hooks.
pub(crate) fn stream<'x, X>(_: &'x mut X, _: &'static str) -> Option<AnyMessage<'x>> {
    None
}

/// Wraps a codec so that every decoded message passes the receive hooks and every message to
/// encode the send hooks.
#[derive(Clone)]
pub(crate) struct InterceptCodec<C> {
    inner: C,
    hooks: Hooks,
}

impl<C> InterceptCodec<C> {
    pub(crate) fn new(inner: C, hooks: Hooks) -> Self {
        Self { inner, hooks }
    }
}

impl<C> Codec for InterceptCodec<C>
where
    C: Codec,
    C::Encode: prost::Message + std::fmt::Debug + 'static,
    C::Decode: prost::Message + std::fmt::Debug + 'static,
{
    type Encode = C::Encode;
    type Decode = C::Decode;
    type Encoder = InterceptEncoder<C::Encoder>;
    type Decoder = InterceptDecoder<C::Decoder>;

    fn encoder(&mut self) -> Self::Encoder {
        InterceptEncoder {
            inner: self.inner.encoder(),
            hooks: self.hooks.clone(),
        }
    }

    fn decoder(&mut self) -> Self::Decoder {
        InterceptDecoder {
            inner: self.inner.decoder(),
            hooks: self.hooks.clone(),
        }
    }
}

pub(crate) struct InterceptEncoder<E> {
    inner: E,
    hooks: Hooks,
}

impl<E> Encoder for InterceptEncoder<E>
where
    E: Encoder<Error = Status>,
    E::Item: prost::Message + std::fmt::Debug + 'static,
{
    type Item = E::Item;
    type Error = Status;

    fn encode(&mut self, mut item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        self.hooks.on_send(&mut item)?;
        self.inner.encode(item, dst)
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.inner.buffer_settings()
    }
}

pub(crate) struct InterceptDecoder<D> {
    inner: D,
    hooks: Hooks,
}

impl<D> Decoder for InterceptDecoder<D>
where
    D: Decoder<Error = Status>,
    D::Item: prost::Message + std::fmt::Debug + 'static,
{
    type Item = D::Item;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        let Some(mut message) = self.inner.decode(src)? else {
            return Ok(None);
        };
        self.hooks.on_receive(&mut message)?;
        Ok(Some(message))
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.inner.buffer_settings()
    }
}

/// What guards a served call's response body besides the call chain: the deadline that ends
/// it, the recovery that turns a panic into `INTERNAL` trailers, and whether its trailers may
/// carry tonic's size error, to be sent RESOURCE_EXHAUSTED ([`map_headers`]).
pub(crate) struct Guard {
    pub(crate) method: &'static MethodInfo,
    pub(crate) deadline: Option<Instant>,
    pub(crate) recovery: Option<Arc<Recovery>>,
    pub(crate) size_error_trailers: bool,
}

impl Guard {
    /// Nothing to guard: the body is sent as it is.
    pub(crate) fn none(method: &'static MethodInfo) -> Self {
        Self {
            method,
            deadline: None,
            recovery: None,
            size_error_trailers: false,
        }
    }

    /// Runs `f`, catching a panic in it if panics are recovered.
    fn catch<R>(&self, f: impl FnOnce() -> R) -> Result<R, Status> {
        match &self.recovery {
            Some(recovery) => recovery.catch(self.method, f),
            None => Ok(f()),
        }
    }
}

/// Finishes a server response: sends a size error RESOURCE_EXHAUSTED, adds the trailers a
/// handler attached to it and those the interceptors set, runs the end hooks with the final
/// status, and guards the body with the call's deadline and panic recovery. A response that
/// needs none of this is returned as it is.
pub(crate) fn finish_response(
    response: http::Response<TonicBody>,
    hooks: Option<Hooks>,
    guard: Guard,
) -> http::Response<TonicBody> {
    let (mut parts, body) = response.into_parts();
    // A trailers-only response (an error before any message) has its status in the head.
    map_headers(&mut parts.headers);
    let handler_trailers = parts.extensions.remove::<ResponseTrailers>();
    if handler_trailers.is_none()
        && hooks.is_none()
        && guard.deadline.is_none()
        && guard.recovery.is_none()
        && !guard.size_error_trailers
    {
        return http::Response::from_parts(parts, body);
    }
    if let Some(hooks) = &hooks {
        merge_trailers(&mut parts.headers, &hooks.context.headers());
        // A trailers-only response: the call ends with its head.
        if parts.headers.contains_key(&GRPC_STATUS)
            && let Some(status) = Status::from_header_map(&parts.headers)
        {
            merge_trailers(&mut parts.headers, &hooks.context.trailers());
            if let Err(recovered) = guard.catch(|| hooks.on_end(&status)) {
                return recovered.into_http();
            }
            return http::Response::from_parts(parts, body);
        }
    }
    let expiry = guard
        .deadline
        .map(|at| Box::pin(tokio::time::sleep_until(at.into())));
    let body = TonicBody::new(ServerBody {
        inner: Some(body),
        handler_trailers,
        hooks,
        expiry,
        guard,
    });
    http::Response::from_parts(parts, body)
}

/// A server response body that completes the final trailers (with gRPC's code for a size
/// error), ends the response `DEADLINE_EXCEEDED` at the call's deadline, and `INTERNAL` if it
/// panics.
struct ServerBody {
    /// `None` once the response ended early (deadline, panic): the stream is dropped then.
    inner: Option<TonicBody>,
    handler_trailers: Option<ResponseTrailers>,
    hooks: Option<Hooks>,
    expiry: Option<Pin<Box<tokio::time::Sleep>>>,
    guard: Guard,
}

impl ServerBody {
    /// Completes the final trailers and runs the end hooks; `INTERNAL` trailers instead if
    /// that panics.
    fn finish(&mut self, trailers: &mut HeaderMap) {
        map_headers(trailers);
        let handler_trailers = self.handler_trailers.take();
        let hooks = self.hooks.take();
        let finished = self
            .guard
            .catch(|| complete_trailers(trailers, handler_trailers, hooks));
        if let Err(status) = finished {
            *trailers = HeaderMap::new();
            status.add_header(trailers).ok();
        }
    }

    /// Ends the response early with `status`: drops the rest of the body (the handler's
    /// stream) and sends the final trailers.
    fn end_early(&mut self, status: &Status) -> http_body::Frame<Bytes> {
        self.expiry = None;
        let inner = self.inner.take();
        self.guard.catch(move || drop(inner)).ok();
        let mut trailers = HeaderMap::new();
        status.add_header(&mut trailers).ok();
        self.finish(&mut trailers);
        http_body::Frame::trailers(trailers)
    }
}

/// Adds to the final trailers those the handler attached and those the interceptors set, puts
/// back a send hook's own status, and runs the end hooks with the final status.
fn complete_trailers(
    trailers: &mut HeaderMap,
    handler_trailers: Option<ResponseTrailers>,
    hooks: Option<Hooks>,
) {
    if let Some(extra) = handler_trailers {
        merge_trailers(trailers, &extra.lock());
    }
    if let Some(hooks) = hooks {
        if let Some(failure) = hooks.context.take_send_failure() {
            // The status the send hook gave, not tonic's INTERNAL wrapping of it.
            for reserved in [&GRPC_STATUS, &GRPC_MESSAGE, &GRPC_STATUS_DETAILS] {
                trailers.remove(reserved);
            }
            if failure.add_header(trailers).is_err() {
                Status::internal("a send hook's status cannot be sent as trailers")
                    .add_header(trailers)
                    .ok();
            }
        }
        merge_trailers(trailers, &hooks.context.trailers());
        hooks.on_end(&final_status(trailers));
    }
}

/// An OK status with no message or metadata, made once: what the end hooks of most calls see,
/// without the two allocations of a new `Status`.
pub(crate) fn ok_status() -> &'static Status {
    static OK: LazyLock<Status> = LazyLock::new(|| Status::new(Code::Ok, ""));
    &OK
}

/// The status the final trailers send. Most calls end with `grpc-status: 0` alone: one OK
/// status made once serves them all, without the copy of the trailers `Status::from_header_map`
/// makes for the status's metadata.
pub(crate) fn final_status(trailers: &HeaderMap) -> Cow<'static, Status> {
    match trailers.get(&GRPC_STATUS) {
        Some(code) if trailers.len() == 1 => match Code::from_bytes(code.as_bytes()) {
            Code::Ok => Cow::Borrowed(ok_status()),
            code => Cow::Owned(Status::new(code, "")),
        },
        _ => Cow::Owned(
            Status::from_header_map(trailers)
                .unwrap_or_else(|| Status::internal("the response ended without a grpc-status")),
        ),
    }
}

impl Body for ServerBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        let this = &mut *self;
        if let Some(expiry) = &mut this.expiry
            && expiry.as_mut().poll(cx).is_ready()
        {
            let status = Status::deadline_exceeded("deadline exceeded");
            return Poll::Ready(Some(Ok(this.end_early(&status))));
        }
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = match this.guard.catch(|| Pin::new(inner).poll_frame(cx)) {
            Ok(poll) => ready!(poll),
            Err(status) => return Poll::Ready(Some(Ok(this.end_early(&status)))),
        };
        Poll::Ready(match frame {
            Some(Ok(frame)) => match frame.into_trailers() {
                Ok(mut trailers) => {
                    this.expiry = None;
                    this.finish(&mut trailers);
                    Some(Ok(http_body::Frame::trailers(trailers)))
                }
                Err(frame) => Some(Ok(frame)),
            },
            Some(Err(status)) => {
                this.end_hooks(&status);
                Some(Err(status))
            }
            None => {
                this.end_hooks(&Status::internal("the response ended without trailers"));
                None
            }
        })
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| http_body::SizeHint::with_exact(0), Body::size_hint)
    }
}

impl ServerBody {
    /// Runs the end hooks with `status` unless they already ran (a panic in them is dropped:
    /// the response is over).
    fn end_hooks(&mut self, status: &Status) {
        if let Some(hooks) = self.hooks.take() {
            self.guard.catch(|| hooks.on_end(status)).ok();
        }
    }
}

impl Drop for ServerBody {
    fn drop(&mut self) {
        // Dropped before its trailers were sent: the client went away, or the connection did.
        // The status only when the hooks have not run yet: every body is dropped, most after
        // their trailers went out, and a `Status` costs two allocations.
        if self.hooks.is_some() {
            self.end_hooks(&Status::cancelled(
                "the call ended before its response was sent",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trailers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|&(name, value)| {
                (
                    http::HeaderName::from_static(name),
                    http::HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn the_final_status_is_what_the_trailers_send() {
        let ok = final_status(&trailers(&[("grpc-status", "0")]));
        assert_eq!(ok.code(), Code::Ok);
        assert!(ok.message().is_empty() && ok.metadata().is_empty());

        let not_found = final_status(&trailers(&[("grpc-status", "5")]));
        assert_eq!(not_found.code(), Code::NotFound);

        // Anything beside the code: read in full, message decoded, the rest as metadata.
        let full = final_status(&trailers(&[
            ("grpc-status", "0"),
            ("grpc-message", "all%20good"),
            ("x-served-by", "b"),
        ]));
        assert_eq!(full.code(), Code::Ok);
        assert_eq!(full.message(), "all good");
        assert_eq!(full.metadata().get("x-served-by").unwrap(), "b");
        assert!(full.metadata().get("grpc-status").is_none());

        let missing = final_status(&HeaderMap::new());
        assert_eq!(missing.code(), Code::Internal);
    }
}
