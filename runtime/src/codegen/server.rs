//! The generic half of a generated server: interceptors, transport settings, and one function per
//! streaming kind that serves a call: the head chain on the request head, then tonic's decoding,
//! the call chain around the handler, and the final trailers.

use std::future::Future;
use std::sync::Arc;

use tokio_stream::Stream;
use tonic::body::Body as TonicBody;
use tonic::codegen::{Body, BoxFuture, StdError, http};
use tonic::metadata::MetadataMap;
use tonic::server::{
    ClientStreamingService, ServerStreamingService, StreamingService, UnaryService,
};
use tonic::{Request, Response, Status, Streaming};
use tonic_prost::ProstCodec;

use super::ServerConfig;
use super::intercept::{InterceptCodec, finish_response, single, stream};
use crate::interceptor::{
    Access, Call, CallContext, Exchange, HeadDone, HeadInterceptor, Hooks, InterceptFuture, Next,
    PayloadAccess, Payloads, Side, run_head,
};
use crate::method::RequestCheck;
use crate::{Interceptors, MethodInfo};

/// The reply a generated server's `Service::call` returns.
pub type ServerFuture = BoxFuture<http::Response<TonicBody>, std::convert::Infallible>;

/// What a generated server holds besides its handler.
#[derive(Debug, Clone, Default)]
pub struct ServerCore {
    /// Run on every call.
    pub interceptors: Interceptors,
    /// Compression and message size limits.
    pub config: ServerConfig,
}

/// The call chain bound to one call, with the accessors of its payload kinds.
struct Around<Q, P> {
    hooks: Hooks,
    request: Access<Q>,
    response: Access<P>,
}

/// One call's handler, as tonic's per-kind service traits want it: tonic calls it once per call.
struct Handler<T, F, Q, P> {
    parts: Option<(Arc<T>, F)>,
    method: &'static MethodInfo,
    around: Option<Around<Q, P>>,
}

impl<T, F, Q, P, Fut> Handler<T, F, Q, P>
where
    T: Send + Sync + 'static,
    Q: Send + 'static,
    P: Send + 'static,
    F: FnOnce(Arc<T>, Request<Q>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<P>, Status>> + Send + 'static,
{
    fn new(inner: &Arc<T>, method: &'static MethodInfo, handler: F) -> Self {
        Self {
            parts: Some((Arc::clone(inner), handler)),
            method,
            around: None,
        }
    }

    fn around(mut self, hooks: Hooks, request: Access<Q>, response: Access<P>) -> Self {
        self.around = Some(Around {
            hooks,
            request,
            response,
        });
        self
    }

    /// Runs the handler, inside the call chain if there is one.
    fn run(&mut self, request: Request<Q>) -> BoxFuture<Response<P>, Status> {
        let parts = self.parts.take();
        let around = self.around.take();
        let method = self.method;
        Box::pin(async move {
            let (inner, handler) = parts
                .ok_or_else(|| Status::internal(format!("`{}` was called twice", method.path())))?;
            let Some(around) = around else {
                return handler(inner, request).await;
            };
            let mut exchange = ServerExchange {
                handler: Some((inner, handler)),
                payloads: Payloads::new(method, request, around.request, around.response),
            };
            let Around { hooks, .. } = around;
            let verdict = Next::new(&hooks.chain)
                .run(&mut Call::new(&hooks.context, &mut exchange))
                .await;
            exchange.payloads.finish(verdict)
        })
    }
}

/// The typed state of one served call inside the call chain.
struct ServerExchange<T, F, Q, P> {
    handler: Option<(Arc<T>, F)>,
    payloads: Payloads<Q, P>,
}

impl<T, F, Q, P, Fut> Exchange for ServerExchange<T, F, Q, P>
where
    T: Send + Sync + 'static,
    Q: Send + 'static,
    P: Send + 'static,
    F: FnOnce(Arc<T>, Request<Q>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<P>, Status>> + Send + 'static,
{
    fn payloads(&mut self) -> &mut dyn PayloadAccess {
        &mut self.payloads
    }

    fn invoke(&mut self) -> InterceptFuture<'_> {
        Box::pin(async move {
            let payloads = &mut self.payloads;
            let ((inner, handler), request) = self
                .handler
                .take()
                .zip(payloads.request.take())
                .ok_or_else(|| payloads.ran_twice())?;
            payloads.response = Some(handler(inner, request).await?);
            Ok(())
        })
    }
}

impl<T, F, Req, Resp, Fut> UnaryService<Req> for Handler<T, F, Req, Resp>
where
    T: Send + Sync + 'static,
    Req: Send + 'static,
    Resp: Send + 'static,
    F: FnOnce(Arc<T>, Request<Req>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<Resp>, Status>> + Send + 'static,
{
    type Response = Resp;
    type Future = BoxFuture<Response<Resp>, Status>;

    fn call(&mut self, request: Request<Req>) -> Self::Future {
        self.run(request)
    }
}

impl<T, F, Req, Resp, S, Fut> ServerStreamingService<Req> for Handler<T, F, Req, S>
where
    T: Send + Sync + 'static,
    Req: Send + 'static,
    F: FnOnce(Arc<T>, Request<Req>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<S>, Status>> + Send + 'static,
    S: Stream<Item = Result<Resp, Status>> + Send + 'static,
{
    type Response = Resp;
    type ResponseStream = S;
    type Future = BoxFuture<Response<S>, Status>;

    fn call(&mut self, request: Request<Req>) -> Self::Future {
        self.run(request)
    }
}

impl<T, F, Req, Resp, Fut> ClientStreamingService<Req> for Handler<T, F, Streaming<Req>, Resp>
where
    T: Send + Sync + 'static,
    Req: Send + 'static,
    Resp: Send + 'static,
    F: FnOnce(Arc<T>, Request<Streaming<Req>>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<Resp>, Status>> + Send + 'static,
{
    type Response = Resp;
    type Future = BoxFuture<Response<Resp>, Status>;

    fn call(&mut self, request: Request<Streaming<Req>>) -> Self::Future {
        self.run(request)
    }
}

impl<T, F, Req, Resp, S, Fut> StreamingService<Req> for Handler<T, F, Streaming<Req>, S>
where
    T: Send + Sync + 'static,
    Req: Send + 'static,
    F: FnOnce(Arc<T>, Request<Streaming<Req>>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<S>, Status>> + Send + 'static,
    S: Stream<Item = Result<Resp, Status>> + Send + 'static,
{
    type Response = Resp;
    type ResponseStream = S;
    type Future = BoxFuture<Response<S>, Status>;

    fn call(&mut self, request: Request<Streaming<Req>>) -> Self::Future {
        self.run(request)
    }
}

/// The bounds every served request body meets.
pub trait RequestBody: Body<Error: Into<StdError> + Send + 'static> + Send + 'static {}
impl<B> RequestBody for B where B: Body<Error: Into<StdError> + Send + 'static> + Send + 'static {}

/// The bounds every message type meets.
pub trait ServedMessage:
    prost::Message + std::fmt::Debug + Default + Send + Sync + 'static
{
}
impl<M> ServedMessage for M where
    M: prost::Message + std::fmt::Debug + Default + Send + Sync + 'static
{
}

/// Runs the head chain on a request's head, unless the head layer already ran this chain on it.
async fn run_server_head<B>(
    chain: &Arc<[Arc<dyn HeadInterceptor>]>,
    method: &'static MethodInfo,
    request: http::Request<B>,
) -> Result<http::Request<B>, Status> {
    let (mut parts, body) = request.into_parts();
    let done = parts
        .extensions
        .get::<HeadDone>()
        .is_some_and(|done| Arc::ptr_eq(&done.0, chain));
    if !done {
        let mut metadata = MetadataMap::from_headers(std::mem::take(&mut parts.headers));
        let verdict = run_head(
            chain,
            Side::Server,
            Some(method),
            method.path(),
            &mut metadata,
            &mut parts.extensions,
        )
        .await;
        parts.headers = metadata.into_headers();
        verdict?;
    }
    Ok(http::Request::from_parts(parts, body))
}

/// Reads the request metadata of a call as its method's contract declares it: the
/// INVALID_ARGUMENT response that refuses the call, if it fails.
fn refuse<B>(
    check: RequestCheck,
    request: &mut http::Request<B>,
) -> Option<http::Response<TonicBody>> {
    let metadata = MetadataMap::from_headers(std::mem::take(request.headers_mut()));
    let verdict = check(&metadata);
    *request.headers_mut() = metadata.into_headers();
    verdict.err().map(|error| Status::from(error).into_http())
}

impl ServerCore {
    /// Serves one call: the head chain, the method's request metadata check, then `respond`
    /// (tonic's decoding, the call chain if `hooks` is given, the handler), then the final
    /// trailers. With no interceptors and no check this is `respond` alone.
    fn serve<B, R, Fut>(
        &self,
        method: &'static MethodInfo,
        mut request: http::Request<B>,
        respond: R,
    ) -> ServerFuture
    where
        B: RequestBody,
        R: FnOnce(http::Request<B>, Option<Hooks>) -> Fut + Send + 'static,
        Fut: Future<Output = http::Response<TonicBody>> + Send + 'static,
    {
        let head = self.interceptors.head_chain().cloned();
        let calls = self.interceptors.call_chain().cloned();
        let mut check = method.request_check();
        if head.is_none() {
            // Nothing runs before the check: it needs no future of its own.
            if let Some(refusal) = check.take().and_then(|check| refuse(check, &mut request)) {
                return Box::pin(std::future::ready(Ok(refusal)));
            }
            if calls.is_none() {
                return Box::pin(
                    async move { Ok(finish_response(respond(request, None).await, None)) },
                );
            }
        }
        Box::pin(async move {
            let mut request = match head {
                None => request,
                Some(chain) => match run_server_head(&chain, method, request).await {
                    Ok(request) => request,
                    Err(status) => return Ok(status.into_http()),
                },
            };
            if let Some(refusal) = check.and_then(|check| refuse(check, &mut request)) {
                return Ok(refusal);
            }
            let hooks = calls
                .map(|chain| Hooks::new(chain, Arc::new(CallContext::new(Side::Server, method))));
            let response = respond(request, hooks.clone()).await;
            Ok(finish_response(response, hooks))
        })
    }

    /// Serves one unary call of `method` with `handler`.
    pub fn unary<T, Req, Resp, F, Fut, B>(
        &self,
        inner: &Arc<T>,
        method: &'static MethodInfo,
        request: http::Request<B>,
        handler: F,
    ) -> ServerFuture
    where
        T: Send + Sync + 'static,
        Req: ServedMessage,
        Resp: ServedMessage,
        F: FnOnce(Arc<T>, Request<Req>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<Resp>, Status>> + Send + 'static,
        B: RequestBody,
    {
        let handler = Handler::new(inner, method, handler);
        let config = self.config;
        self.serve(method, request, move |request, hooks| async move {
            let codec = ProstCodec::<Resp, Req>::default();
            match hooks {
                None => config.grpc(codec).unary(handler, request).await,
                Some(hooks) => {
                    let handler = handler.around(hooks.clone(), single::<Req>, single::<Resp>);
                    let mut grpc = config.grpc(InterceptCodec::new(codec, hooks));
                    grpc.unary(handler, request).await
                }
            }
        })
    }

    /// Serves one server-streaming call of `method` with `handler`.
    pub fn server_streaming<T, Req, Resp, S, F, Fut, B>(
        &self,
        inner: &Arc<T>,
        method: &'static MethodInfo,
        request: http::Request<B>,
        handler: F,
    ) -> ServerFuture
    where
        T: Send + Sync + 'static,
        Req: ServedMessage,
        Resp: ServedMessage,
        S: Stream<Item = Result<Resp, Status>> + Send + 'static,
        F: FnOnce(Arc<T>, Request<Req>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<S>, Status>> + Send + 'static,
        B: RequestBody,
    {
        let handler = Handler::new(inner, method, handler);
        let config = self.config;
        self.serve(method, request, move |request, hooks| async move {
            let codec = ProstCodec::<Resp, Req>::default();
            match hooks {
                None => config.grpc(codec).server_streaming(handler, request).await,
                Some(hooks) => {
                    let handler = handler.around(hooks.clone(), single::<Req>, stream::<S>);
                    let mut grpc = config.grpc(InterceptCodec::new(codec, hooks));
                    grpc.server_streaming(handler, request).await
                }
            }
        })
    }

    /// Serves one client-streaming call of `method` with `handler`.
    pub fn client_streaming<T, Req, Resp, F, Fut, B>(
        &self,
        inner: &Arc<T>,
        method: &'static MethodInfo,
        request: http::Request<B>,
        handler: F,
    ) -> ServerFuture
    where
        T: Send + Sync + 'static,
        Req: ServedMessage,
        Resp: ServedMessage,
        F: FnOnce(Arc<T>, Request<Streaming<Req>>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<Resp>, Status>> + Send + 'static,
        B: RequestBody,
    {
        let handler = Handler::new(inner, method, handler);
        let config = self.config;
        self.serve(method, request, move |request, hooks| async move {
            let codec = ProstCodec::<Resp, Req>::default();
            match hooks {
                None => config.grpc(codec).client_streaming(handler, request).await,
                Some(hooks) => {
                    let handler =
                        handler.around(hooks.clone(), stream::<Streaming<Req>>, single::<Resp>);
                    let mut grpc = config.grpc(InterceptCodec::new(codec, hooks));
                    grpc.client_streaming(handler, request).await
                }
            }
        })
    }

    /// Serves one bidirectional-streaming call of `method` with `handler`.
    pub fn streaming<T, Req, Resp, S, F, Fut, B>(
        &self,
        inner: &Arc<T>,
        method: &'static MethodInfo,
        request: http::Request<B>,
        handler: F,
    ) -> ServerFuture
    where
        T: Send + Sync + 'static,
        Req: ServedMessage,
        Resp: ServedMessage,
        S: Stream<Item = Result<Resp, Status>> + Send + 'static,
        F: FnOnce(Arc<T>, Request<Streaming<Req>>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<S>, Status>> + Send + 'static,
        B: RequestBody,
    {
        let handler = Handler::new(inner, method, handler);
        let config = self.config;
        self.serve(method, request, move |request, hooks| async move {
            let codec = ProstCodec::<Resp, Req>::default();
            match hooks {
                None => config.grpc(codec).streaming(handler, request).await,
                Some(hooks) => {
                    let handler =
                        handler.around(hooks.clone(), stream::<Streaming<Req>>, stream::<S>);
                    let mut grpc = config.grpc(InterceptCodec::new(codec, hooks));
                    grpc.streaming(handler, request).await
                }
            }
        })
    }

    /// Answers a call to a path the service does not have.
    pub fn unknown_method(path: &str) -> ServerFuture {
        let status = Status::unimplemented(format!("unknown method `{path}`"));
        Box::pin(std::future::ready(Ok(status.into_http())))
    }
}
