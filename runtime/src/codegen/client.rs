//! The generic half of a generated client: the tonic client, the interceptors, and one method per
//! streaming kind that sends a call after running the interceptors.

use tokio_stream::Stream;
use tonic::body::Body as TonicBody;
use tonic::client::{Grpc, GrpcService};
use tonic::codec::{CompressionEncoding, Streaming};
use tonic::codegen::{Body, Bytes, GrpcMethod, StdError, http};
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

use super::server::ServedMessage;
use crate::{ClientInterceptors, MethodInfo};

/// What a generated client holds: tonic's client for the channel, and the interceptors.
#[derive(Debug, Clone)]
pub struct ClientCore<T> {
    grpc: Grpc<T>,
    /// Run before every call is sent.
    pub interceptors: ClientInterceptors,
}

impl<T> ClientCore<T> {
    /// Sends calls over `inner`.
    pub fn new(inner: T) -> Self {
        Self {
            grpc: Grpc::new(inner),
            interceptors: ClientInterceptors::default(),
        }
    }

    /// Sends calls over `inner` to `origin`.
    pub fn with_origin(inner: T, origin: http::Uri) -> Self {
        Self {
            grpc: Grpc::with_origin(inner, origin),
            interceptors: ClientInterceptors::default(),
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

impl<T> ClientCore<T>
where
    T: GrpcService<TonicBody>,
    T::Error: Into<StdError>,
    T::ResponseBody: Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as Body>::Error: Into<StdError> + Send,
{
    /// Runs the interceptors, waits for the channel, and tags the request with its method.
    async fn prepare<M>(
        &mut self,
        method: &'static MethodInfo,
        request: Request<M>,
    ) -> Result<(Request<M>, http::uri::PathAndQuery), Status> {
        let mut request = self.interceptors.run(method, request).await?;
        self.grpc
            .ready()
            .await
            .map_err(|e| Status::unavailable(format!("service was not ready: {}", e.into())))?;
        request
            .extensions_mut()
            .insert(GrpcMethod::new(method.service(), method.method()));
        Ok((request, http::uri::PathAndQuery::from_static(method.path())))
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
        let (request, path) = self.prepare(method, request).await?;
        self.grpc
            .unary(request, path, ProstCodec::<Req, Resp>::default())
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
        let (request, path) = self.prepare(method, request).await?;
        self.grpc
            .server_streaming(request, path, ProstCodec::<Req, Resp>::default())
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
        let (request, path) = self.prepare(method, request).await?;
        self.grpc
            .client_streaming(request, path, ProstCodec::<Req, Resp>::default())
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
        let (request, path) = self.prepare(method, request).await?;
        self.grpc
            .streaming(request, path, ProstCodec::<Req, Resp>::default())
            .await
    }
}
