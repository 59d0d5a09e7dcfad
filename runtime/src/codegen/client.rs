//! The generic half of a generated client: the tonic client, the interceptors, and one method per
//! streaming kind that sends a call: the head chain, then the call chain around the exchange.
//!
//! Unary and client-streaming calls are sent as streams and finished here rather than by tonic's
//! unary path, which merges the response trailers into the headers: the response keeps its
//! headers as metadata and carries the trailers apart ([`ResponseExt`](crate::metadata::ResponseExt)).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use tokio_stream::Stream;
use tonic::body::Body as TonicBody;
use tonic::client::{Grpc, GrpcService};
use tonic::codec::{CompressionEncoding, Streaming};
use tonic::codegen::{Body, Bytes, GrpcMethod, StdError, http};
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

use super::intercept::{InterceptCodec, ok_status, single, stream};
use super::observed::Observed;
use super::server::ServedMessage;
use super::size_limit::SizeLimits;
use crate::interceptor::{
    Access, Call, CallContext, Deadline, Exchange, Head, Hooks, InterceptFuture, Next,
    PayloadAccess, Payloads, Replay, Side, encode_grpc_timeout, replay, run_head, timeout_of,
};
use crate::metadata::ResponseTrailers;
use crate::{Interceptors, MethodInfo};

/// What a generated client holds: tonic's client for the channel, and the interceptors.
#[derive(Debug, Clone)]
pub struct ClientCore<T> {
    grpc: Grpc<Observed<T>>,
    /// Whether the channel is TLS, when the client knows (from its origin's scheme).
    secure: Option<bool>,
    /// The size limits set on `grpc`, which its channel needs to know too.
    limits: SizeLimits,
    /// Run on every call.
    pub interceptors: Interceptors,
}

impl<T> ClientCore<T> {
    /// Sends calls over `inner`.
    pub fn new(inner: T) -> Self {
        Self {
            grpc: Grpc::new(Observed(inner)),
            secure: None,
            limits: SizeLimits::default(),
            interceptors: Interceptors::default(),
        }
    }

    /// Sends calls over `inner` to `origin`; head interceptors learn from its scheme whether
    /// the channel is TLS ([`Head::is_secure`]).
    pub fn with_origin(inner: T, origin: http::Uri) -> Self {
        let secure = match origin.scheme_str() {
            Some("https") => Some(true),
            Some("http") => Some(false),
            _ => None,
        };
        Self {
            grpc: Grpc::with_origin(Observed(inner), origin),
            secure,
            limits: SizeLimits::default(),
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
        self.limits.decoding = Some(limit);
        self
    }

    /// Limits the size of an encoded request message.
    #[must_use]
    pub fn max_encoding_message_size(mut self, limit: usize) -> Self {
        self.grpc = self.grpc.max_encoding_message_size(limit);
        self.limits.encoding = Some(limit);
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

/// Runs `call` within `deadline`: `DEADLINE_EXCEEDED` (dropping it) once the deadline passes.
async fn within<F, R>(deadline: Option<Instant>, call: F) -> Result<R, Status>
where
    F: Future<Output = Result<R, Status>>,
{
    let result = match deadline {
        None => call.await,
        Some(at) => tokio::time::timeout_at(at.into(), call)
            .await
            .unwrap_or_else(|_| Err(Status::deadline_exceeded("deadline exceeded"))),
    };
    result.map_err(|status| match timed_out(&status) {
        true => Status::deadline_exceeded("deadline exceeded"),
        false => status,
    })
}

/// Whether `status` is a tonic channel's own timeout (its `grpc-timeout` layer, or
/// `Endpoint::timeout`), which tonic reports as `CANCELLED`: the call's deadline passed.
fn timed_out(status: &Status) -> bool {
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        if error.is::<tonic::TimeoutExpired>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// What a generated client sends calls over: a tonic channel, or any service like one.
pub trait Transport:
    GrpcService<
        TonicBody,
        Future: Send,
        Error: Into<StdError>,
        ResponseBody: Body<Data = Bytes, Error: Into<StdError> + Send> + Send + 'static,
    > + Send
{
}

impl<T> Transport for T where
    T: GrpcService<
            TonicBody,
            Future: Send,
            Error: Into<StdError>,
            ResponseBody: Body<Data = Bytes, Error: Into<StdError> + Send> + Send + 'static,
        > + Send
{
}

/// Waits until the channel can take a call.
async fn ready<T: Transport>(grpc: &mut Grpc<Observed<T>>) -> Result<(), Status> {
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("service was not ready: {e}")))
}

/// How one attempt of a call of some kind goes over the channel, with codec `C`.
type Exchanger<T, Q, P, C> = for<'g> fn(
    &'g mut Grpc<Observed<T>>,
    Request<Q>,
    http::uri::PathAndQuery,
    C,
) -> LocalFuture<'g, Result<Response<P>, Status>>;

impl<T: Transport> ClientCore<T> {
    /// Runs the head chain, settles the call's deadline (a head interceptor's, or the
    /// `grpc-timeout` the caller set) and sends it as `grpc-timeout`, and tags the request with
    /// its method.
    async fn prepare<M>(
        &mut self,
        method: &'static MethodInfo,
        request: Request<M>,
    ) -> Result<(Request<M>, http::uri::PathAndQuery), Status> {
        let started = Instant::now();
        let (mut metadata, mut extensions, message) = request.into_parts();
        if let Some(chain) = self.interceptors.head_chain() {
            let mut head = Head::new(
                Side::Client,
                Some(method),
                method.path(),
                &mut metadata,
                &mut extensions,
            )
            .with_transport_security(self.secure);
            run_head(chain, &mut head).await?;
        }
        let timeout = timeout_of(
            metadata
                .get("grpc-timeout")
                .map(|value| value.as_encoded_bytes()),
        )?;
        if let Some(timeout) = timeout {
            Deadline::tighten(&mut extensions, started + timeout);
        }
        if let Some(deadline) = extensions.get::<Deadline>() {
            // The time left, so the server gives up no later than the client does.
            let left = encode_grpc_timeout(deadline.remaining());
            metadata.insert(
                "grpc-timeout",
                left.parse()
                    .map_err(|_| Status::internal("unencodable grpc-timeout"))?,
            );
        }
        extensions.insert(GrpcMethod::new(method.service(), method.method()));
        if self.limits != SizeLimits::default() {
            extensions.insert(self.limits);
        }
        let request = Request::from_parts(metadata, extensions, message);
        Ok((request, http::uri::PathAndQuery::from_static(method.path())))
    }

    /// Sends a call: one attempt with `plain` when there is no call chain; otherwise through
    /// the call chain, whose end sends attempts with `hooked` (more than one when an interceptor
    /// retains the request and runs `next` again).
    #[allow(clippy::too_many_arguments)]
    async fn send<Q, P, Req, Resp>(
        &mut self,
        method: &'static MethodInfo,
        request: Request<Q>,
        plain: Exchanger<T, Q, P, ProstCodec<Req, Resp>>,
        hooked: Exchanger<T, Q, P, Intercepted<Req, Resp>>,
        request_access: Access<Q>,
        response_access: Access<P>,
        replay: Option<Replay<Q>>,
    ) -> Result<Response<P>, Status>
    where
        Q: Send + 'static,
        P: Send + 'static,
        Req: ServedMessage,
        Resp: ServedMessage,
    {
        // The call's context exists from the start: a call the head chain refuses still ends
        // in every call interceptor's end hook.
        let hooks = self
            .interceptors
            .call_chain()
            .cloned()
            .map(|chain| Hooks::new(chain, Arc::new(CallContext::new(Side::Client, method))));
        let prepared = self.prepare(method, request).await;
        let (mut request, path) = match (prepared, &hooks) {
            (Ok(prepared), _) => prepared,
            (Err(status), Some(hooks)) => {
                hooks.on_end(&status);
                return Err(status);
            }
            (Err(status), None) => return Err(status),
        };
        let deadline = request.extensions().get::<Deadline>().map(|d| d.0);
        let Some(hooks) = hooks else {
            let grpc = &mut self.grpc;
            return within(deadline, async move {
                ready(grpc).await?;
                plain(grpc, request, path, ProstCodec::default()).await
            })
            .await;
        };
        request.extensions_mut().insert(hooks.clone());
        let mut payloads = Payloads::new(method, request, request_access, response_access);
        if let Some(replay) = replay {
            payloads = payloads.replayable(replay);
        }
        let mut exchange = ClientExchange {
            grpc: &mut self.grpc,
            send: hooked,
            path,
            codec: InterceptCodec::new(ProstCodec::default(), hooks.clone()),
            deadline,
            payloads,
        };
        // No interceptor wraps this call: one attempt, without passing through the chain.
        let verdict = match hooks.wrapped() {
            true => {
                Next::new(&hooks.chain.around)
                    .run(&mut Call::new(&hooks.context, &mut exchange))
                    .await
            }
            false => exchange.exchange().await,
        };
        // A send hook's own status, not what became of it on the wire.
        let verdict = verdict.map_err(|status| hooks.context.take_send_failure().unwrap_or(status));
        let result = exchange.payloads.finish(verdict);
        // A response stream ends later, in the response body; any other call has ended here.
        match &result {
            Err(status) => hooks.on_end(status),
            Ok(_) if !method.kind().is_server_streaming() => hooks.on_end(ok_status()),
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
        self.send(
            method,
            request,
            // Sent as a stream of one: tonic's unary path merges the trailers into the headers.
            |grpc, request, path, codec| {
                Box::pin(streamed_exchange(
                    grpc,
                    request.map(tokio_stream::once),
                    path,
                    codec,
                ))
            },
            |grpc, request, path, codec| {
                Box::pin(streamed_exchange(
                    grpc,
                    request.map(tokio_stream::once),
                    path,
                    codec,
                ))
            },
            single::<Req>,
            single::<Resp>,
            Some(replay::<Req>),
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
        self.send(
            method,
            request,
            |grpc, request, path, codec| Box::pin(grpc.server_streaming(request, path, codec)),
            |grpc, request, path, codec| Box::pin(grpc.server_streaming(request, path, codec)),
            single::<Req>,
            stream::<Streaming<Resp>>,
            Some(replay::<Req>),
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
        self.send(
            method,
            request,
            |grpc, request, path, codec| Box::pin(streamed_exchange(grpc, request, path, codec)),
            |grpc, request, path, codec| Box::pin(streamed_exchange(grpc, request, path, codec)),
            stream::<S>,
            single::<Resp>,
            None,
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
        self.send(
            method,
            request,
            |grpc, request, path, codec| Box::pin(grpc.streaming(request, path, codec)),
            |grpc, request, path, codec| Box::pin(grpc.streaming(request, path, codec)),
            stream::<S>,
            stream::<Streaming<Resp>>,
            None,
        )
        .await
    }
}

/// One attempt of a call with one response (unary, client streaming): its response and
/// trailers read apart.
async fn streamed_exchange<T, C, S>(
    grpc: &mut Grpc<Observed<T>>,
    request: Request<S>,
    path: http::uri::PathAndQuery,
    codec: C,
) -> Result<Response<C::Decode>, Status>
where
    T: Transport,
    C: tonic::codec::Codec + 'static,
    C::Encode: Send + Sync + 'static,
    C::Decode: Send + Sync + 'static,
    S: Stream<Item = C::Encode> + Send + 'static,
{
    single_response(grpc.streaming(request, path, codec).await?).await
}

/// The typed state of one sent call inside the call chain.
struct ClientExchange<'g, T, Q, P, C> {
    grpc: &'g mut Grpc<Observed<T>>,
    send: Exchanger<T, Q, P, C>,
    path: http::uri::PathAndQuery,
    codec: C,
    deadline: Option<Instant>,
    payloads: Payloads<Q, P>,
}

impl<T, Q, P, C> Exchange for ClientExchange<'_, T, Q, P, C>
where
    T: Transport,
    Q: Send + 'static,
    P: Send + 'static,
    C: Clone + Send,
{
    fn payloads(&mut self) -> &mut dyn PayloadAccess {
        &mut self.payloads
    }

    fn invoke(&mut self) -> InterceptFuture<'_> {
        Box::pin(self.exchange())
    }
}

impl<T, Q, P, C> ClientExchange<'_, T, Q, P, C>
where
    T: Transport,
    Q: Send + 'static,
    P: Send + 'static,
    C: Clone + Send,
{
    /// One attempt: sends the request and keeps the response.
    async fn exchange(&mut self) -> Result<(), Status> {
        let mut request = self.payloads.take_request()?;
        if let Some(at) = self.deadline {
            // Each attempt tells the server the time left now, not when the call began.
            let left = encode_grpc_timeout(at.saturating_duration_since(Instant::now()));
            if let Ok(left) = left.parse() {
                request.metadata_mut().insert("grpc-timeout", left);
            }
        }
        let (grpc, send) = (&mut *self.grpc, self.send);
        let (path, codec) = (self.path.clone(), self.codec.clone());
        let response = within(self.deadline, async move {
            ready(grpc).await?;
            send(grpc, request, path, codec).await
        })
        .await?;
        self.payloads.response = Some(response);
        Ok(())
    }
}
