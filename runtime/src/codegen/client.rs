//! The generic half of a generated client: the tonic client, the interceptors, and one method per
//! streaming kind that sends a call: the head chain, then the call chain around the exchange.
//!
//! Unary and client-streaming calls are sent as streams and finished here rather than by tonic's
//! unary path, which merges the response trailers into the headers: the response keeps its
//! headers as metadata and carries the trailers apart ([`ResponseExt`](crate::metadata::ResponseExt)).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio_stream::Stream;
use tonic::body::Body as TonicBody;
use tonic::client::{Grpc, GrpcService};
use tonic::codec::{CompressionEncoding, Streaming};
use tonic::codegen::{Body, Bytes, GrpcMethod, Service, StdError, http};
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

use super::intercept::{InterceptCodec, single, stream};
use super::server::ServedMessage;
use crate::interceptor::{
    Access, Call, CallContext, Exchange, Hooks, InterceptFuture, Next, PayloadAccess, Payloads,
    Side, run_head,
};
use crate::metadata::ResponseTrailers;
use crate::status::sanitize_status;
use crate::{CallInterceptor, Interceptors, MethodInfo};

/// What a generated client holds: tonic's client for the channel, and the interceptors.
#[derive(Debug, Clone)]
pub struct ClientCore<T> {
    grpc: Grpc<Observed<T>>,
    /// Run on every call.
    pub interceptors: Interceptors,
}

impl<T> ClientCore<T> {
    /// Sends calls over `inner`.
    pub fn new(inner: T) -> Self {
        Self {
            grpc: Grpc::new(Observed(inner)),
            interceptors: Interceptors::default(),
        }
    }

    /// Sends calls over `inner` to `origin`.
    pub fn with_origin(inner: T, origin: http::Uri) -> Self {
        Self {
            grpc: Grpc::with_origin(Observed(inner), origin),
            interceptors: Interceptors::default(),
        }
    }

    /// Compresses requests with `encoding`.
    #[must_use]
    pub fn send_compressed(mut self, encoding: CompressionEncoding) -> Self {
        self.grpc = self.grpc.send_compressed(encoding);
        self
    }

    /// Accepts responses compressed with `encoding`.
    #[must_use]
    pub fn accept_compressed(mut self, encoding: CompressionEncoding) -> Self {
        self.grpc = self.grpc.accept_compressed(encoding);
        self
    }

    /// Limits the size of a decoded response message.
    #[must_use]
    pub fn max_decoding_message_size(mut self, limit: usize) -> Self {
        self.grpc = self.grpc.max_decoding_message_size(limit);
        self
    }

    /// Limits the size of an encoded request message.
    #[must_use]
    pub fn max_encoding_message_size(mut self, limit: usize) -> Self {
        self.grpc = self.grpc.max_encoding_message_size(limit);
        self
    }
}

type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Reads the one message of a response stream and its trailers, which the response carries
/// apart from its headers.
async fn single_response<M>(response: Response<Streaming<M>>) -> Result<Response<M>, Status> {
    let (metadata, mut body, mut extensions) = response.into_parts();
    let message = body
        .message()
        .await?
        .ok_or_else(|| Status::internal("the server sent no response message"))?;
    if let Some(trailers) = body.trailers().await? {
        extensions.insert(ResponseTrailers::from_metadata(trailers));
    }
    Ok(Response::from_parts(metadata, message, extensions))
}

/// The codec of an intercepted call.
type Intercepted<Req, Resp> = InterceptCodec<ProstCodec<Req, Resp>>;

impl<T> ClientCore<T>
where
    T: GrpcService<TonicBody> + Send,
    T::Future: Send,
    T::Error: Into<StdError>,
    T::ResponseBody: Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as Body>::Error: Into<StdError> + Send,
{
    /// Runs the head chain, waits for the channel, and tags the request with its method.
    async fn prepare<M>(
        &mut self,
        method: &'static MethodInfo,
        request: Request<M>,
    ) -> Result<(Request<M>, http::uri::PathAndQuery), Status> {
        let (mut metadata, mut extensions, message) = request.into_parts();
        if let Some(chain) = self.interceptors.head_chain() {
            run_head(
                chain,
                Side::Client,
                Some(method),
                method.path(),
                &mut metadata,
                &mut extensions,
            )
            .await?;
        }
        self.grpc
            .ready()
            .await
            .map_err(|e| Status::unavailable(format!("service was not ready: {}", e.into())))?;
        extensions.insert(GrpcMethod::new(method.service(), method.method()));
        let request = Request::from_parts(metadata, extensions, message);
        Ok((request, http::uri::PathAndQuery::from_static(method.path())))
    }

    /// Sends a call through the call chain: `send` is the exchange of the call's kind.
    async fn intercepted<Q, P, Req, Resp, S>(
        &mut self,
        chain: Arc<[Arc<dyn CallInterceptor>]>,
        method: &'static MethodInfo,
        request: Request<Q>,
        send: S,
        request_access: Access<Q>,
        response_access: Access<P>,
    ) -> Result<Response<P>, Status>
    where
        Q: Send + 'static,
        P: Send + 'static,
        Req: ServedMessage,
        Resp: ServedMessage,
        S: for<'g> FnOnce(
                &'g mut Grpc<Observed<T>>,
                Request<Q>,
                http::uri::PathAndQuery,
                Intercepted<Req, Resp>,
            ) -> LocalFuture<'g, Result<Response<P>, Status>>
            + Send,
    {
        let (mut request, path) = self.prepare(method, request).await?;
        let hooks = Hooks::new(chain, Arc::new(CallContext::new(Side::Client, method)));
        request.extensions_mut().insert(hooks.clone());
        let codec = InterceptCodec::new(ProstCodec::default(), hooks.clone());
        let mut exchange = ClientExchange {
            grpc: &mut self.grpc,
            send: Some((send, path, codec)),
            payloads: Payloads::new(method, request, request_access, response_access),
        };
        let verdict = Next::new(&hooks.chain)
            .run(&mut Call::new(&hooks.context, &mut exchange))
            .await
            // A send hook's own status, not what became of it on the wire.
            .map_err(|status| hooks.context.take_send_failure().unwrap_or(status));
        let result = exchange.payloads.finish(verdict);
        // A response stream ends later, in the response body; any other call has ended here
        // (if its body already ran the end hooks, they do not run again).
        match &result {
            Err(status) => hooks.on_end(status),
            Ok(_) if !method.kind().is_server_streaming() => hooks.on_end(&Status::ok("")),
            Ok(_) => {}
        }
        result
    }

    /// Sends one unary call of `method`.
    pub async fn unary<Req, Resp>(
        &mut self,
        method: &'static MethodInfo,
        request: Request<Req>,
    ) -> Result<Response<Resp>, Status>
    where
        Req: ServedMessage,
        Resp: ServedMessage,
    {
        let Some(chain) = self.interceptors.call_chain().cloned() else {
            let (request, path) = self.prepare(method, request).await?;
            let codec = ProstCodec::<Req, Resp>::default();
            let response = self
                .grpc
                .streaming(request.map(tokio_stream::once), path, codec)
                .await?;
            return single_response(response).await;
        };
        self.intercepted(
            chain,
            method,
            request,
            |grpc, request, path, codec| {
                Box::pin(async move {
                    let request = request.map(tokio_stream::once);
                    single_response(grpc.streaming(request, path, codec).await?).await
                })
            },
            single::<Req>,
            single::<Resp>,
        )
        .await
    }

    /// Sends one server-streaming call of `method`.
    pub async fn server_streaming<Req, Resp>(
        &mut self,
        method: &'static MethodInfo,
        request: Request<Req>,
    ) -> Result<Response<Streaming<Resp>>, Status>
    where
        Req: ServedMessage,
        Resp: ServedMessage,
    {
        let Some(chain) = self.interceptors.call_chain().cloned() else {
            let (request, path) = self.prepare(method, request).await?;
            let codec = ProstCodec::<Req, Resp>::default();
            return self.grpc.server_streaming(request, path, codec).await;
        };
        self.intercepted(
            chain,
            method,
            request,
            |grpc, request, path, codec| {
                Box::pin(async move { grpc.server_streaming(request, path, codec).await })
            },
            single::<Req>,
            stream::<Streaming<Resp>>,
        )
        .await
    }

    /// Sends one client-streaming call of `method`.
    pub async fn client_streaming<S, Req, Resp>(
        &mut self,
        method: &'static MethodInfo,
        request: Request<S>,
    ) -> Result<Response<Resp>, Status>
    where
        S: Stream<Item = Req> + Send + 'static,
        Req: ServedMessage,
        Resp: ServedMessage,
    {
        let Some(chain) = self.interceptors.call_chain().cloned() else {
            let (request, path) = self.prepare(method, request).await?;
            let codec = ProstCodec::<Req, Resp>::default();
            return single_response(self.grpc.streaming(request, path, codec).await?).await;
        };
        self.intercepted(
            chain,
            method,
            request,
            |grpc, request, path, codec| {
                Box::pin(async move {
                    single_response(grpc.streaming(request, path, codec).await?).await
                })
            },
            stream::<S>,
            single::<Resp>,
        )
        .await
    }

    /// Sends one bidirectional-streaming call of `method`.
    pub async fn streaming<S, Req, Resp>(
        &mut self,
        method: &'static MethodInfo,
        request: Request<S>,
    ) -> Result<Response<Streaming<Resp>>, Status>
    where
        S: Stream<Item = Req> + Send + 'static,
        Req: ServedMessage,
        Resp: ServedMessage,
    {
        let Some(chain) = self.interceptors.call_chain().cloned() else {
            let (request, path) = self.prepare(method, request).await?;
            let codec = ProstCodec::<Req, Resp>::default();
            return self.grpc.streaming(request, path, codec).await;
        };
        self.intercepted(
            chain,
            method,
            request,
            |grpc, request, path, codec| {
                Box::pin(async move { grpc.streaming(request, path, codec).await })
            },
            stream::<S>,
            stream::<Streaming<Resp>>,
        )
        .await
    }
}

/// The typed state of one sent call inside the call chain.
struct ClientExchange<'g, T, Q, P, S, C> {
    grpc: &'g mut Grpc<Observed<T>>,
    send: Option<(S, http::uri::PathAndQuery, C)>,
    payloads: Payloads<Q, P>,
}

impl<T, Q, P, S, C> Exchange for ClientExchange<'_, T, Q, P, S, C>
where
    T: Send,
    Q: Send + 'static,
    P: Send + 'static,
    C: Send,
    S: for<'g> FnOnce(
            &'g mut Grpc<Observed<T>>,
            Request<Q>,
            http::uri::PathAndQuery,
            C,
        ) -> LocalFuture<'g, Result<Response<P>, Status>>
        + Send,
{
    fn payloads(&mut self) -> &mut dyn PayloadAccess {
        &mut self.payloads
    }

    fn invoke(&mut self) -> InterceptFuture<'_> {
        Box::pin(async move {
            let payloads = &mut self.payloads;
            let ((send, uri_path, codec), request) = self
                .send
                .take()
                .zip(payloads.request.take())
                .ok_or_else(|| payloads.ran_twice())?;
            payloads.response = Some(send(self.grpc, request, uri_path, codec).await?);
            Ok(())
        })
    }
}

/// The channel of a generated client, watching every response: it repairs a final status tonic
/// would misread or panic on ([`sanitize_status`]), and for calls that run end hooks records the
/// response headers and trailers in the call's context and runs the end hooks when the final
/// status arrives.
#[derive(Debug, Clone)]
pub(crate) struct Observed<T>(T);

impl<T> Service<http::Request<TonicBody>> for Observed<T>
where
    T: GrpcService<TonicBody>,
{
    type Response = http::Response<ObservedBody<T::ResponseBody>>;
    type Error = T::Error;
    type Future = ObservedFuture<T::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<TonicBody>) -> Self::Future {
        let hooks = request.extensions().get::<Hooks>().cloned();
        ObservedFuture {
            inner: self.0.call(request),
            hooks,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`Observed`].
    pub(crate) struct ObservedFuture<F> {
        #[pin]
        inner: F,
        hooks: Option<Hooks>,
    }
}

impl<F, B, E> Future for ObservedFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = Result<http::Response<ObservedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        sanitize_status(response.headers_mut());
        let mut hooks = this.hooks.take();
        if let Some(hooks) = &hooks {
            *hooks.context.headers() = MetadataMap::from_headers(response.headers().clone());
        }
        // A trailers-only response carries the final status in its head.
        if let Some(status) = Status::from_header_map(response.headers())
            && let Some(hooks) = hooks.take()
        {
            *hooks.context.trailers() = MetadataMap::from_headers(response.headers().clone());
            hooks.on_end(&status);
        }
        Poll::Ready(Ok(response.map(|inner| ObservedBody { inner, hooks })))
    }
}

pin_project_lite::pin_project! {
    /// A response body of [`Observed`].
    pub(crate) struct ObservedBody<B> {
        #[pin]
        inner: B,
        hooks: Option<Hooks>,
    }

    impl<B> PinnedDrop for ObservedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            // Dropped before the final status arrived: the caller gave up on the call.
            if let Some(hooks) = this.project().hooks.take() {
                hooks.on_end(&Status::cancelled("the response was dropped before it ended"));
            }
        }
    }
}

impl<B> Body for ObservedBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<StdError>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let mut frame = ready!(this.inner.poll_frame(cx));
        if let Some(Ok(frame)) = &mut frame
            && let Some(trailers) = frame.trailers_mut()
        {
            sanitize_status(trailers);
        }
        if this.hooks.is_some() {
            match &frame {
                Some(Ok(frame)) => {
                    if let Some(trailers) = frame.trailers_ref()
                        && let Some(hooks) = this.hooks.take()
                    {
                        *hooks.context.trailers() = MetadataMap::from_headers(trailers.clone());
                        let status = Status::from_header_map(trailers).unwrap_or_else(|| {
                            Status::internal("the response trailers carry no grpc-status")
                        });
                        hooks.on_end(&status);
                    }
                }
                Some(Err(_)) => {
                    if let Some(hooks) = this.hooks.take() {
                        hooks.on_end(&Status::unavailable("the response body failed"));
                    }
                }
                None => {
                    if let Some(hooks) = this.hooks.take() {
                        hooks.on_end(&Status::internal("the response ended without a status"));
                    }
                }
            }
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
