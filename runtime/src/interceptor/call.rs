//! The call phase: around-style interceptors that see every message of a call.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use super::{AnyMessage, InterceptFuture, Side};
use crate::MethodInfo;

/// What one call shares between its around hook and its per-message and end hooks: the method,
/// the side, the peer, when the call started, how many messages went each way, the response
/// headers and trailers, and values interceptors keep for the rest of the call.
///
/// On the server, headers added here are sent with the response head (if it has not left yet)
/// and trailers with the final status, on success as on error. On the client they are what the
/// server sent, filled in as they arrive.
///
/// On the server the context exists from the request head on: a call refused in the head phase
/// (by a head interceptor or the method's request metadata check) still reaches every call
/// interceptor's [`on_end`](CallInterceptor::on_end).
#[derive(Debug)]
pub struct CallContext {
    method: &'static MethodInfo,
    side: Side,
    started: Instant,
    peer: Option<SocketAddr>,
    received: AtomicU64,
    sent: AtomicU64,
    extensions: Mutex<tonic::Extensions>,
    headers: Mutex<MetadataMap>,
    trailers: Mutex<MetadataMap>,
    ended: AtomicBool,
    /// The status a send hook failed with: tonic wraps an encoder's error in INTERNAL, so the
    /// server's final trailers and the client's result put this one back.
    send_failure: Mutex<Option<Status>>,
}

impl CallContext {
    /// The context of a new call of `method`.
    pub fn new(side: Side, method: &'static MethodInfo) -> Self {
        Self::started_at(side, method, Instant::now())
    }

    /// The context of a call of `method` that started at `started`.
    pub(crate) fn started_at(side: Side, method: &'static MethodInfo, started: Instant) -> Self {
        Self {
            method,
            side,
            started,
            peer: None,
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            extensions: Mutex::default(),
            headers: Mutex::default(),
            trailers: Mutex::default(),
            ended: AtomicBool::new(false),
            send_failure: Mutex::default(),
        }
    }

    /// The method being called.
    pub fn method(&self) -> &'static MethodInfo {
        self.method
    }

    /// Whether this runs in a server or a client.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The context with the peer's address set (the server sets the client's).
    #[must_use]
    pub fn with_peer(mut self, peer: Option<SocketAddr>) -> Self {
        self.peer = peer;
        self
    }

    /// On the server, the client's address when the call came over TCP (or TLS over TCP).
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// When the call started: on the server when its request head arrived, on the client when
    /// it was handed to the generated client.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The time since the call started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// How many messages the call has received so far (server: requests; client: responses).
    pub fn messages_received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// How many messages the call has sent so far (server: responses; client: requests).
    pub fn messages_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub(crate) fn count_received(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// Values interceptors keep for the rest of the call (a span, a timer), from the around hook
    /// to the per-message and end hooks. Do not hold the guard across an `.await`.
    pub fn extensions(&self) -> MutexGuard<'_, tonic::Extensions> {
        self.extensions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Response headers: on the server, more to send; on the client, those received. Do not
    /// hold the guard across an `.await`.
    pub fn headers(&self) -> MutexGuard<'_, MetadataMap> {
        self.headers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Response trailers: on the server, more to send with the final status; on the client,
    /// those received. Do not hold the guard across an `.await`.
    pub fn trailers(&self) -> MutexGuard<'_, MetadataMap> {
        self.trailers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn fail_send(&self, status: &Status) {
        *self
            .send_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(status.clone());
    }

    pub(crate) fn take_send_failure(&self) -> Option<Status> {
        self.send_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Marks the call ended; true the first time only, so the end hooks run once.
    pub(crate) fn end(&self) -> bool {
        !self.ended.swap(true, Ordering::AcqRel)
    }
}

/// How the call chain reaches the message inside a request or response payload: the message
/// itself for a single message, nothing for a stream (its messages pass the codec's hooks).
pub(crate) type Access<X> = for<'x> fn(&'x mut X, &'static str) -> Option<AnyMessage<'x>>;

/// How a client copies a request it may send again (a single message, not a stream).
pub(crate) type Replay<Q> = fn(&Request<Q>) -> Request<Q>;

/// A copy of a request of one message: its metadata, extensions and message.
pub(crate) fn replay<M: Clone>(request: &Request<M>) -> Request<M> {
    let mut copy = Request::new(request.get_ref().clone());
    *copy.metadata_mut() = request.metadata().clone();
    *copy.extensions_mut() = request.extensions().clone();
    copy
}

/// The request and response of one call inside the call chain, the same on both sides: the
/// request until the rest of the call takes it, the response once it has produced it.
pub(crate) struct Payloads<Q, P> {
    pub(crate) request: Option<Request<Q>>,
    pub(crate) response: Option<Response<P>>,
    method: &'static MethodInfo,
    request_access: Access<Q>,
    response_access: Access<P>,
    /// Set when the request can be copied to be sent again; `retain` says whether to.
    replay: Option<Replay<Q>>,
    retain: bool,
}

impl<Q, P> Payloads<Q, P> {
    pub(crate) fn new(
        method: &'static MethodInfo,
        request: Request<Q>,
        request_access: Access<Q>,
        response_access: Access<P>,
    ) -> Self {
        Self {
            request: Some(request),
            response: None,
            method,
            request_access,
            response_access,
            replay: None,
            retain: false,
        }
    }

    /// Lets the call chain keep a copy of the request to send it again.
    pub(crate) fn replayable(mut self, replay: Replay<Q>) -> Self {
        self.replay = Some(replay);
        self
    }

    /// The request for the rest of the call: a copy when it is retained for another attempt,
    /// otherwise the request itself; the error for a request already handed on.
    pub(crate) fn take_request(&mut self) -> Result<Request<Q>, Status> {
        let taken = match (self.retain, self.replay) {
            (true, Some(replay)) => self.request.as_ref().map(replay),
            _ => self.request.take(),
        };
        taken.ok_or_else(|| self.ran_twice())
    }

    /// The error for a `next` run a second time: the request was already handed on.
    fn ran_twice(&self) -> Status {
        Status::internal(format!(
            "`next` of `{}` ran twice without `Call::retain_request`",
            self.method.path()
        ))
    }

    /// The response the chain ended with, or its failure.
    pub(crate) fn finish(&mut self, verdict: Result<(), Status>) -> Result<Response<P>, Status> {
        verdict?;
        self.response.take().ok_or_else(|| {
            Status::internal(format!(
                "a call interceptor of `{}` returned Ok without running the rest of the call",
                self.method.path()
            ))
        })
    }
}

/// The typed half of a call, behind the erased [`Call`]: its [`Payloads`], and the rest of the
/// call (the handler on a server, the network exchange on a client).
pub(crate) trait Exchange: Send {
    fn payloads(&mut self) -> &mut dyn PayloadAccess;
    fn invoke(&mut self) -> InterceptFuture<'_>;
}

/// [`Payloads`] with their types erased.
pub(crate) trait PayloadAccess: Send {
    fn request(&mut self) -> Option<AnyMessage<'_>>;
    fn response(&mut self) -> Option<AnyMessage<'_>>;
    fn request_metadata(&mut self) -> Option<&mut MetadataMap>;
    fn request_extensions(&mut self) -> Option<&mut tonic::Extensions>;
    fn response_metadata(&mut self) -> Option<&mut MetadataMap>;
    fn retain_request(&mut self) -> bool;
}

impl<Q: Send, P: Send> PayloadAccess for Payloads<Q, P> {
    fn request(&mut self) -> Option<AnyMessage<'_>> {
        let (access, name) = (self.request_access, self.method.input_type());
        self.request
            .as_mut()
            .and_then(|r| access(r.get_mut(), name))
    }

    fn response(&mut self) -> Option<AnyMessage<'_>> {
        let (access, name) = (self.response_access, self.method.output_type());
        self.response
            .as_mut()
            .and_then(|r| access(r.get_mut(), name))
    }

    fn request_metadata(&mut self) -> Option<&mut MetadataMap> {
        self.request.as_mut().map(Request::metadata_mut)
    }

    fn request_extensions(&mut self) -> Option<&mut tonic::Extensions> {
        self.request.as_mut().map(Request::extensions_mut)
    }

    fn response_metadata(&mut self) -> Option<&mut MetadataMap> {
        self.response.as_mut().map(Response::metadata_mut)
    }

    fn retain_request(&mut self) -> bool {
        self.retain = self.replay.is_some() && self.request.is_some();
        self.retain
    }
}

/// One call as a [`CallInterceptor`] sees it around [`Next::run`].
///
/// Before `next` runs: the request metadata and extensions, and the request message of a call
/// with one request (unary, server streaming), all mutable. After it: the response message of a
/// call with one response (unary, client streaming) and the response headers, mutable on the
/// server. Messages of streams pass through [`CallInterceptor::on_receive`] and
/// [`CallInterceptor::on_send`] instead.
pub struct Call<'a> {
    context: &'a Arc<CallContext>,
    exchange: &'a mut dyn Exchange,
}

impl<'a> Call<'a> {
    pub(crate) fn new(context: &'a Arc<CallContext>, exchange: &'a mut dyn Exchange) -> Self {
        Self { context, exchange }
    }

    /// The method being called.
    pub fn method(&self) -> &'static MethodInfo {
        self.context.method
    }

    /// What the call shares with the per-message hooks: response headers and trailers.
    pub fn context(&self) -> &Arc<CallContext> {
        self.context
    }

    /// The request message, for unary and server-streaming calls, until the handler (server)
    /// or the network (client) has taken it. Downcast it to read, change or replace it.
    pub fn request(&mut self) -> Option<AnyMessage<'_>> {
        self.exchange.payloads().request()
    }

    /// The response message, for unary and client-streaming calls, once `next` has produced it.
    pub fn response(&mut self) -> Option<AnyMessage<'_>> {
        self.exchange.payloads().response()
    }

    /// The request metadata, until the request is handed on.
    pub fn metadata_mut(&mut self) -> Option<&mut MetadataMap> {
        self.exchange.payloads().request_metadata()
    }

    /// The request extensions, until the request is handed on.
    pub fn extensions_mut(&mut self) -> Option<&mut tonic::Extensions> {
        self.exchange.payloads().request_extensions()
    }

    /// The response headers once `next` has produced the response: on the server still
    /// writable; on the client those received.
    pub fn response_headers_mut(&mut self) -> Option<&mut MetadataMap> {
        self.exchange.payloads().response_metadata()
    }

    /// On the client, keeps a copy of the request so that `next` can run more than once (each
    /// run sends the request again, as it is then): what a retrying interceptor needs. True when
    /// it can: a call whose request is one message (unary, server streaming) and not yet sent.
    /// A streamed request, or any call on the server, runs `next` once.
    pub fn retain_request(&mut self) -> bool {
        self.exchange.payloads().retain_request()
    }
}

impl std::fmt::Debug for Call<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("method", &self.context.method.path())
            .field("side", &self.context.side)
            .finish_non_exhaustive()
    }
}

/// The rest of the chain: the interceptors after this one, then the handler (server) or the
/// network (client). Run it once, or again after [`Call::retain_request`] on the client.
#[derive(Clone, Copy)]
pub struct Next<'a> {
    rest: &'a [Arc<dyn CallInterceptor>],
}

impl<'a> Next<'a> {
    pub(crate) fn new(rest: &'a [Arc<dyn CallInterceptor>]) -> Self {
        Self { rest }
    }

    /// Runs the rest of the call. `Ok(())` when it succeeded (the response is then in `call`);
    /// the status it failed with otherwise.
    pub async fn run(self, call: &mut Call<'_>) -> Result<(), Status> {
        self.forward(call).await
    }

    /// The rest of the call as the future to return from [`CallInterceptor::call`], for an
    /// interceptor with nothing to do around it on this call: what [`run`](Self::run) awaits,
    /// handed on as it is rather than wrapped in one more future (one allocation and one poll
    /// less per call).
    ///
    /// ```
    /// use greeter_runtime::interceptor::{Call, CallInterceptor, InterceptFuture, Next};
    ///
    /// /// Times calls only when asked to.
    /// struct MaybeTimed(bool);
    ///
    /// impl CallInterceptor for MaybeTimed {
    ///     fn call<'a>(&'a self, call: &'a mut Call<'_>, next: Next<'a>) -> InterceptFuture<'a> {
    ///         if !self.0 {
    ///             return next.forward(call);
    ///         }
    ///         Box::pin(async move {
    ///             let started = std::time::Instant::now();
    ///             let result = next.run(call).await;
    ///             println!("{:?}", started.elapsed());
    ///             result
    ///         })
    ///     }
    /// }
    /// ```
    pub fn forward(self, call: &'a mut Call<'_>) -> InterceptFuture<'a> {
        match self.rest.split_first() {
            Some((first, rest)) => first.call(call, Next { rest }),
            None => call.exchange.invoke(),
        }
    }
}

impl std::fmt::Debug for Next<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Next")
            .field("remaining", &self.rest.len())
            .finish()
    }
}

/// An interceptor around the whole call, once per call, with every message in reach.
///
/// - [`call`](Self::call) wraps the rest of the call: code before `next.run(call)` sees the
///   request, code after it the response or the failure status, which it may replace.
///   Returning `Err` without running `next` rejects the call.
/// - [`on_receive`](Self::on_receive) and [`on_send`](Self::on_send) see every message the
///   call receives and sends, in all four kinds (a unary call's one request and one response
///   too), and may change or reject it.
/// - [`on_end`](Self::on_end) sees the call's final status, once, after the last message.
///
/// Every method has a default that does nothing, so an interceptor implements only what it
/// needs. Order: the first interceptor added is the outermost one: first to see the request
/// and every request message, last to see the response, every response message and the end.
/// So on a server the outermost sees each received message first and each sent one last; on a
/// client it sees each sent message (a request) first and each received one (a response) last.
///
/// ```
/// use greeter_runtime::interceptor::{AnyMessage, CallContext, CallInterceptor};
/// use tonic::Status;
///
/// /// Rejects any message over 1 KiB, in either direction, on any method.
/// struct SizeCap;
///
/// impl CallInterceptor for SizeCap {
///     fn on_receive(&self, _: &CallContext, message: &mut AnyMessage<'_>) -> Result<(), Status> {
///         match message.encoded_len() {
///             0..=1024 => Ok(()),
///             len => Err(Status::invalid_argument(format!("{} of {len} bytes", message.full_name()))),
///         }
///     }
/// }
/// ```
pub trait CallInterceptor: Send + Sync + 'static {
    /// Wraps the rest of the call. The default just runs it.
    fn call<'a>(&'a self, call: &'a mut Call<'_>, next: Next<'a>) -> InterceptFuture<'a> {
        next.forward(call)
    }

    /// Whether [`call`](Self::call) does anything. An interceptor with only per-message or end
    /// hooks returns `false`, and the chain then runs the rest of the call without passing
    /// through it (one boxed future less per call); its other hooks run as before. Asked once,
    /// when the interceptor is added to a chain.
    fn wraps_call(&self) -> bool {
        true
    }

    /// Whether [`call`](Self::call) does anything on this call, for an interceptor that wraps
    /// calls ([`wraps_call`](Self::wraps_call)) but not every one. Before the call chain runs,
    /// the server or client asks the interceptors that wrap calls, in order, until one says it
    /// wraps this call; when none does, the handler runs (server) or the request is sent once
    /// (client) without passing through the chain (no boxed future for the rest of the call),
    /// and the per-message and end hooks run as before. When one does, every `call` of the
    /// chain runs, this one's too (it then forwards). So `wraps` may not be asked at all, and
    /// nothing may depend on it having run. Returning `true` when `call` would only forward is
    /// always correct, and the default.
    fn wraps(&self, _context: &CallContext) -> bool {
        true
    }

    /// Sees each message the call receives (server: requests; client: responses), before the
    /// handler or the caller does. `Err` ends the call with that status.
    fn on_receive(
        &self,
        _context: &CallContext,
        _message: &mut AnyMessage<'_>,
    ) -> Result<(), Status> {
        Ok(())
    }

    /// Sees each message the call sends (server: responses; client: requests), before it is
    /// encoded. `Err` ends the call with that status.
    fn on_send(&self, _context: &CallContext, _message: &mut AnyMessage<'_>) -> Result<(), Status> {
        Ok(())
    }

    /// Sees the final status of the call, once: OK or the error it ended with (on the server
    /// also `CANCELLED` when the client went away first).
    fn on_end(&self, _context: &CallContext, _status: &Status) {}
}
