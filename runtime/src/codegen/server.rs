//! The generic half of a generated server: interceptors, transport settings, and one function per
//! streaming kind that serves a call by running the interceptors and then the handler.

use std::future::Future;
use std::sync::Arc;

use tokio_stream::Stream;
use tonic::body::Body as TonicBody;
use tonic::codegen::{Body, BoxFuture, StdError, http};
use tonic::server::{
    ClientStreamingService, ServerStreamingService, StreamingService, UnaryService,
};
use tonic::{Request, Response, Status, Streaming};
use tonic_prost::ProstCodec;

use super::ServerConfig;
use crate::{MethodInfo, ServerInterceptors};

/// The reply a generated server's `Service::call` returns.
pub type ServerFuture = BoxFuture<http::Response<TonicBody>, std::convert::Infallible>;

/// What a generated server holds besides its handler.
#[derive(Debug, Clone, Default)]
pub struct ServerCore {
    /// Run before every handler.
    pub interceptors: ServerInterceptors,
    /// Compression and message size limits.
    pub config: ServerConfig,
}

/// One call's handler, as tonic's per-kind service traits want it: tonic calls it once per call.
struct Handler<T, F> {
    parts: Option<(Arc<T>, ServerInterceptors, F)>,
    method: &'static MethodInfo,
}

impl<T, F> Handler<T, F> {
    /// Runs the interceptors over `request`, then the handler.
    fn run<M, R, Fut>(&mut self, request: Request<M>) -> BoxFuture<Response<R>, Status>
    where
        M: Send + 'static,
        T: Send + Sync + 'static,
        F: FnOnce(Arc<T>, Request<M>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<R>, Status>> + Send + 'static,
    {
        let parts = self.parts.take();
        let method = self.method;
        Box::pin(async move {
            let (inner, interceptors, handler) = parts
                .ok_or_else(|| Status::internal(format!("`{}` was called twice", method.path())))?;
            let request = interceptors.run(method, request).await?;
            handler(inner, request).await
        })
    }
}

impl<T, F, Req, Resp, Fut> UnaryService<Req> for Handler<T, F>
where
    T: Send + Sync + 'static,
    Req: Send + 'static,
    F: FnOnce(Arc<T>, Request<Req>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<Resp>, Status>> + Send + 'static,
{
    type Response = Resp;
    type Future = BoxFuture<Response<Resp>, Status>;

    fn call(&mut self, request: Request<Req>) -> Self::Future {
        self.run(request)
    }
}

impl<T, F, Req, Resp, S, Fut> ServerStreamingService<Req> for Handler<T, F>
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

impl<T, F, Req, Resp, Fut> ClientStreamingService<Req> for Handler<T, F>
where
    T: Send + Sync + 'static,
    Req: Send + 'static,
    F: FnOnce(Arc<T>, Request<Streaming<Req>>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<Resp>, Status>> + Send + 'static,
{
    type Response = Resp;
    type Future = BoxFuture<Response<Resp>, Status>;

    fn call(&mut self, request: Request<Streaming<Req>>) -> Self::Future {
        self.run(request)
    }
}

impl<T, F, Req, Resp, S, Fut> StreamingService<Req> for Handler<T, F>
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
pub trait ServedMessage: prost::Message + Default + Send + Sync + 'static {}
impl<M> ServedMessage for M where M: prost::Message + Default + Send + Sync + 'static {}

impl ServerCore {
    fn handler<T, F>(&self, inner: &Arc<T>, method: &'static MethodInfo, f: F) -> Handler<T, F> {
        Handler {
            parts: Some((Arc::clone(inner), self.interceptors.clone(), f)),
            method,
        }
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
        let handler = self.handler(inner, method, handler);
        let mut grpc = self.config.grpc(ProstCodec::<Resp, Req>::default());
        Box::pin(async move { Ok(grpc.unary(handler, request).await) })
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
        let handler = self.handler(inner, method, handler);
        let mut grpc = self.config.grpc(ProstCodec::<Resp, Req>::default());
        Box::pin(async move { Ok(grpc.server_streaming(handler, request).await) })
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
        let handler = self.handler(inner, method, handler);
        let mut grpc = self.config.grpc(ProstCodec::<Resp, Req>::default());
        Box::pin(async move { Ok(grpc.client_streaming(handler, request).await) })
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
        let handler = self.handler(inner, method, handler);
        let mut grpc = self.config.grpc(ProstCodec::<Resp, Req>::default());
        Box::pin(async move { Ok(grpc.streaming(handler, request).await) })
    }

    /// Answers a call to a path the service does not have.
    pub fn unknown_method(path: &str) -> ServerFuture {
        let status = Status::unimplemented(format!("unknown method `{path}`"));
        Box::pin(std::future::ready(Ok(status.into_http())))
    }
}
