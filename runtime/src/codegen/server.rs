//! The generic half of a generated server: interceptors, transport settings, and one function per
//! streaming kind that serves a call: the head chain on the request head, then tonic's decoding,
//! the call chain around the handler, and the final trailers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio_stream::Stream;
use tonic::body::Body as TonicBody;
use tonic::codegen::{Body, BoxFuture, StdError, http};
use tonic::metadata::MetadataMap;
use tonic::server::{
    ClientStreamingService, ServerStreamingService, StreamingService, UnaryService,
};
use tonic::transport::server::TcpConnectInfo;
use tonic::{Request, Response, Status, Streaming};
use tonic_prost::ProstCodec;

use super::ServerConfig;
use super::intercept::{Guard, InterceptCodec, finish_response, single, stream};
use crate::interceptor::{
    Access, Call, CallContext, Deadline, Exchange, Head, HeadDone, HeadInterceptor, Hooks,
    InterceptFuture, Next, PayloadAccess, Payloads, Side, connect_info, run_head, timeout_of,
};
use crate::interceptors::Recovering;
use crate::method::RequestCheck;
use crate::wire::GRPC_TIMEOUT;
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
            // No interceptor wraps this call: the chain's per-message and end hooks run in the
            // codec and the response body, and the handler runs as it would without them.
            let Some(around) = around.filter(|around| around.hooks.wrapped()) else {
                return handler(inner, request).await;
            };
            let mut exchange = ServerExchange {
                handler: Some((inner, handler)),
                payloads: Payloads::new(method, request, around.request, around.response),
            };
            let Around { hooks, .. } = around;
            let verdict = Next::new(&hooks.chain.around)
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
            let request = payloads.take_request()?;
            let (inner, handler) = self
                .handler
                .take()
                .ok_or_else(|| Status::internal("the handler ran twice"))?;
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

/// The bounds every message type meets (prost-build derives all of them).
pub trait ServedMessage:
    prost::Message + std::fmt::Debug + Clone + Default + Send + Sync + 'static
{
}
impl<M> ServedMessage for M where
    M: prost::Message + std::fmt::Debug + Clone + Default + Send + Sync + 'static
{
}

/// Runs the head chain on a request's head, unless the head layer already ran this chain on it.
async fn run_server_head<B>(
    chain: &Arc<[Arc<dyn HeadInterceptor>]>,
    method: &'static MethodInfo,
    request: &mut http::Request<B>,
) -> Result<(), Status> {
    let done = request
        .extensions()
        .get::<HeadDone>()
        .is_some_and(|done| Arc::ptr_eq(&done.0, chain));
    if done {
        return Ok(());
    }
    let mut metadata = MetadataMap::from_headers(std::mem::take(request.headers_mut()));
    let mut head = Head::new(
        Side::Server,
        Some(method),
        method.path(),
        &mut metadata,
        request.extensions_mut(),
    );
    let verdict = run_head(chain, &mut head).await;
    *request.headers_mut() = metadata.into_headers();
    verdict
}

/// Reads the request metadata of a call as its method's contract declares it: the
/// INVALID_ARGUMENT status that refuses the call, if it fails.
fn check_metadata<B>(check: RequestCheck, request: &mut http::Request<B>) -> Result<(), Status> {
    let metadata = MetadataMap::from_headers(std::mem::take(request.headers_mut()));
    let verdict = check(&metadata);
    *request.headers_mut() = metadata.into_headers();
    verdict.map_err(Status::from)
}

/// How much earlier than the client's `grpc-timeout` the server ends a call, so that its
/// DEADLINE_EXCEEDED always comes before the CANCELLED of tonic's own timeout layer (which
/// starts counting a moment sooner and whose timer ticks in milliseconds).
const DEADLINE_MARGIN: Duration = Duration::from_millis(1);

/// The client's address, from the connection info the transport put in the extensions.
fn peer_of<B>(request: &http::Request<B>) -> Option<std::net::SocketAddr> {
    connect_info(request.extensions()).and_then(TcpConnectInfo::remote_addr)
}

pin_project_lite::pin_project! {
    /// A response that is DEADLINE_EXCEEDED if it is not ready by the call's deadline. Unlike
    /// `tokio::time::timeout_at` behind a `match`, the call's future has one place in the
    /// enclosing future whether or not the call has a deadline.
    struct Until<F> {
        #[pin]
        responding: F,
        #[pin]
        expiry: Option<tokio::time::Sleep>,
    }
}

impl<F> Until<F> {
    fn new(deadline: Option<Instant>, responding: F) -> Self {
        Self {
            responding,
            expiry: deadline.map(|at| tokio::time::sleep_until(at.into())),
        }
    }
}

impl<F: Future<Output = http::Response<TonicBody>>> Future for Until<F> {
    type Output = http::Response<TonicBody>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(response) = this.responding.poll(cx) {
            return Poll::Ready(response);
        }
        match this.expiry.as_pin_mut().map(|expiry| expiry.poll(cx)) {
            Some(Poll::Ready(())) => {
                Poll::Ready(Status::deadline_exceeded("deadline exceeded").into_http())
            }
            _ => Poll::Pending,
        }
    }
}

impl ServerCore {
    /// Serves one call: the deadline, the head chain, the method's request metadata check,
    /// then `respond` (tonic's decoding, the call chain if `hooks` is given, the handler), then
    /// the final trailers, all under panic recovery when it is on. With no interceptors, no
    /// check and no deadline this is `respond` alone.
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
        let recovery = self.interceptors.recovery().cloned();
        let check = method.request_check();
        let timed = request.headers().contains_key(&GRPC_TIMEOUT);
        // Where tonic's size error can reach the final trailers rather than a trailers-only
        // head: from its encoder, which has no limit unless one is set, and from a request
        // stream that a bidi handler reads while it replies.
        let kind = method.kind();
        let size_error_trailers = self.config.max_encoding_message_size.is_some()
            || (kind.is_client_streaming() && kind.is_server_streaming());
        if head.is_none() && calls.is_none() && recovery.is_none() && !timed {
            // Nothing runs before the check: it needs no future of its own.
            if let Some(check) = check
                && let Err(status) = check_metadata(check, &mut request)
            {
                return Box::pin(std::future::ready(Ok(status.into_http())));
            }
            return Box::pin(async move {
                let guard = Guard {
                    size_error_trailers,
                    ..Guard::none(method)
                };
                Ok(finish_response(respond(request, None).await, None, guard))
            });
        }
        let arrived = Instant::now();
        let hooks = calls.map(|chain| {
            let context =
                CallContext::started_at(Side::Server, method, arrived).with_peer(peer_of(&request));
            Hooks::new(chain, Arc::new(context))
        });
        Box::pin(async move {
            let hooks_ref = hooks.as_ref();
            let served = Recovering::new(
                async move {
                    // A malformed timeout is refused after the head chain: auth answers first.
                    let timeout = match timed {
                        false => Ok(None),
                        true => {
                            timeout_of(request.headers().get(&GRPC_TIMEOUT).map(|v| v.as_bytes()))
                        }
                    };
                    if let Ok(Some(timeout)) = timeout {
                        let at = arrived + timeout.saturating_sub(DEADLINE_MARGIN);
                        Deadline::tighten(request.extensions_mut(), at);
                    }
                    if let Some(chain) = &head {
                        run_server_head(chain, method, &mut request).await?;
                    }
                    timeout?;
                    if let Some(check) = check {
                        check_metadata(check, &mut request)?;
                    }
                    let deadline = request.extensions().get::<Deadline>().map(|d| d.0);
                    let response = Until::new(deadline, respond(request, hooks_ref.cloned())).await;
                    Ok::<_, Status>((response, deadline))
                },
                recovery.clone(),
                method,
            )
            .await;
            let (response, deadline) = match served {
                Ok(Ok(served)) => served,
                Ok(Err(status)) | Err(status) => (status.into_http(), None),
            };
            let guard = Guard {
                method,
                deadline,
                recovery,
                size_error_trailers,
            };
            Ok(finish_response(response, hooks, guard))
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
