//! The server every generated service is: a handler, interceptors, transport settings, and
//! the service's routing table, which is all the generator writes per service.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::codec::CompressionEncoding;
use tonic::codegen::{Service, http};
use tonic::server::NamedService;

use crate::codegen::{RequestBody, ServerFuture};
use crate::{CallInterceptor, HeadInterceptor, Interceptors, ServerCore};

/// The routing table of one generated service: which handler of `T` serves which path. The
/// generator implements it (e.g. `greeter_server::GreeterRoutes`); users do not.
pub trait Routes<T>: 'static {
    /// The fully qualified service name, e.g. `greeter.v1.Greeter`.
    const NAME: &'static str;

    /// Serves one call: runs the interceptors and the handler for the request's path, or answers
    /// UNIMPLEMENTED for a path the service does not have.
    fn route<B: RequestBody>(
        core: &ServerCore,
        inner: &Arc<T>,
        request: http::Request<B>,
    ) -> ServerFuture;
}

/// A generated service served by a handler `T`: what `greeter_server::GreeterServer<T>` names.
/// Hand it to `tonic::transport::Server::add_service` (or any tower stack).
///
/// ```
/// use greeter_runtime::interceptor::Head;
/// use greeter_runtime::{Routes, ServerCore, ServiceServer};
/// # use greeter_runtime::__codegen::{Arc, ServerFuture, RequestBody, http};
/// # struct Routed;
/// # impl Routes<()> for Routed {
/// #     const NAME: &'static str = "demo.Service";
/// #     fn route<B: RequestBody>(_: &ServerCore, _: &Arc<()>, req: http::Request<B>) -> ServerFuture {
/// #         ServerCore::unknown_method(req.uri().path())
/// #     }
/// # }
/// # type DemoServer<T> = ServiceServer<T, Routed>;
/// let server = DemoServer::new(())
///     .with_head_interceptor(|head: &mut Head<'_>| {
///         println!("{}", head.path());
///         Ok(())
///     })
///     .max_decoding_message_size(1 << 20);
/// assert_eq!(server.interceptors().head_len(), 1);
/// ```
pub struct ServiceServer<T, R> {
    inner: Arc<T>,
    core: ServerCore,
    routes: PhantomData<fn() -> R>,
}

impl<T, R> ServiceServer<T, R> {
    /// Serves `inner`.
    pub fn new(inner: T) -> Self {
        Self::from_arc(Arc::new(inner))
    }

    /// Serves an implementation that is shared with other code.
    pub fn from_arc(inner: Arc<T>) -> Self {
        Self {
            inner,
            core: ServerCore::default(),
            routes: PhantomData,
        }
    }

    /// The implementation being served.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The interceptors run on every call.
    pub fn interceptors(&self) -> &Interceptors {
        &self.core.interceptors
    }

    /// Runs `interceptor` on the head of every call, before the request body is read, after
    /// the head interceptors added before it.
    #[must_use]
    pub fn with_head_interceptor(mut self, interceptor: impl HeadInterceptor) -> Self {
        self.core.interceptors = self.core.interceptors.with_head(interceptor);
        self
    }

    /// Runs `interceptor` around every call, inside the call interceptors added before it.
    #[must_use]
    pub fn with_call_interceptor(mut self, interceptor: impl CallInterceptor) -> Self {
        self.core.interceptors = self.core.interceptors.with_call(interceptor);
        self
    }

    /// Replaces the interceptors with `interceptors`.
    #[must_use]
    pub fn with_interceptors(mut self, interceptors: Interceptors) -> Self {
        self.core.interceptors = interceptors;
        self
    }

    /// Accepts requests compressed with `encoding`.
    #[must_use]
    pub fn accept_compressed(mut self, encoding: CompressionEncoding) -> Self {
        self.core.config.accept_compressed(encoding);
        self
    }

    /// Compresses responses with `encoding` when the client accepts it.
    #[must_use]
    pub fn send_compressed(mut self, encoding: CompressionEncoding) -> Self {
        self.core.config.send_compressed(encoding);
        self
    }

    /// Limits the size of a decoded request message (default: 4 MiB).
    #[must_use]
    pub fn max_decoding_message_size(mut self, limit: usize) -> Self {
        self.core.config.max_decoding_message_size(limit);
        self
    }

    /// Limits the size of an encoded response message (default: `usize::MAX`).
    #[must_use]
    pub fn max_encoding_message_size(mut self, limit: usize) -> Self {
        self.core.config.max_encoding_message_size(limit);
        self
    }
}

impl<T, R> Clone for ServiceServer<T, R> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            core: self.core.clone(),
            routes: PhantomData,
        }
    }
}

impl<T: fmt::Debug, R> fmt::Debug for ServiceServer<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceServer")
            .field("inner", &self.inner)
            .field("core", &self.core)
            .finish()
    }
}

impl<T, R: Routes<T>> NamedService for ServiceServer<T, R> {
    const NAME: &'static str = R::NAME;
}

impl<T, R, B> Service<http::Request<B>> for ServiceServer<T, R>
where
    R: Routes<T>,
    B: RequestBody,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = ServerFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        R::route(&self.core, &self.inner, request)
    }
}
