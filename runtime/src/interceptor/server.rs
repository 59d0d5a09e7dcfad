use std::net::SocketAddr;
use std::sync::Arc;

use tonic::Status;
use tonic::metadata::MetadataMap;
use tonic::transport::server::TcpConnectInfo;

use super::InterceptFuture;
use crate::MethodInfo;

/// What a server interceptor sees of an incoming call: the method, and the request's metadata
/// and extensions, both mutable so an interceptor can normalise metadata or hand a value (say the
/// authenticated principal) to the handler through the extensions.
#[derive(Debug)]
pub struct ServerCall<'a> {
    method: &'static MethodInfo,
    metadata: &'a mut MetadataMap,
    extensions: &'a mut tonic::Extensions,
}

impl<'a> ServerCall<'a> {
    /// Builds a view over one request's head. Generated code and tests call this.
    pub fn new(
        method: &'static MethodInfo,
        metadata: &'a mut MetadataMap,
        extensions: &'a mut tonic::Extensions,
    ) -> Self {
        Self {
            method,
            metadata,
            extensions,
        }
    }

    /// The method being called.
    pub fn method(&self) -> &'static MethodInfo {
        self.method
    }

    /// The request metadata (HTTP/2 headers less the reserved ones).
    pub fn metadata(&self) -> &MetadataMap {
        self.metadata
    }

    /// The request metadata, mutable.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        self.metadata
    }

    /// Request extensions: values handed from interceptors to the handler.
    pub fn extensions(&self) -> &tonic::Extensions {
        self.extensions
    }

    /// Request extensions, mutable.
    pub fn extensions_mut(&mut self) -> &mut tonic::Extensions {
        self.extensions
    }

    /// The peer's address, when the call arrived over TCP.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.extensions
            .get::<TcpConnectInfo>()
            .and_then(TcpConnectInfo::remote_addr)
    }
}

/// A hook run on the server before the handler of every call of the service it is installed on.
///
/// ```
/// use greeter_runtime::{InterceptFuture, ServerCall, ServerInterceptor};
/// use tonic::Status;
///
/// /// Rejects calls that carry no `x-tenant` metadata.
/// struct RequireTenant;
///
/// impl ServerInterceptor for RequireTenant {
///     fn intercept<'a>(&'a self, call: &'a mut ServerCall<'_>) -> InterceptFuture<'a> {
///         Box::pin(async move {
///             match call.metadata().get("x-tenant") {
///                 Some(_) => Ok(()),
///                 None => Err(Status::invalid_argument("x-tenant metadata is required")),
///             }
///         })
///     }
/// }
/// ```
pub trait ServerInterceptor: Send + Sync + 'static {
    /// Inspects or edits the call; `Err(status)` ends the call before the handler runs.
    fn intercept<'a>(&'a self, call: &'a mut ServerCall<'_>) -> InterceptFuture<'a>;
}

/// Any `Fn(&mut ServerCall) -> Result<(), Status>` is a (synchronous) server interceptor.
impl<F> ServerInterceptor for F
where
    F: Fn(&mut ServerCall<'_>) -> Result<(), Status> + Send + Sync + 'static,
{
    fn intercept<'a>(&'a self, call: &'a mut ServerCall<'_>) -> InterceptFuture<'a> {
        Box::pin(std::future::ready(self(call)))
    }
}

/// The ordered chain of interceptors a generated server runs. Cloning is cheap (one `Arc`), and an
/// empty chain costs nothing per call.
#[derive(Clone, Default)]
pub struct ServerInterceptors {
    chain: Option<Arc<[Arc<dyn ServerInterceptor>]>>,
}

impl ServerInterceptors {
    /// An empty chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the chain with `interceptor` appended: it runs after those added before it.
    #[must_use]
    pub fn with(self, interceptor: impl ServerInterceptor) -> Self {
        self.with_shared(Arc::new(interceptor))
    }

    /// Like [`with`](Self::with), for an interceptor shared with other services.
    #[must_use]
    pub fn with_shared(self, interceptor: Arc<dyn ServerInterceptor>) -> Self {
        let mut chain: Vec<_> = self.chain.as_deref().unwrap_or_default().to_vec();
        chain.push(interceptor);
        Self {
            chain: Some(chain.into()),
        }
    }

    /// How many interceptors the chain holds.
    pub fn len(&self) -> usize {
        self.chain.as_deref().map_or(0, <[_]>::len)
    }

    /// Whether the chain is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs the chain over `request` in order, stopping at the first error.
    pub async fn run<M>(
        &self,
        method: &'static MethodInfo,
        request: tonic::Request<M>,
    ) -> Result<tonic::Request<M>, Status> {
        let Some(chain) = self.chain.as_deref() else {
            return Ok(request);
        };
        let (mut metadata, mut extensions, message) = request.into_parts();
        let mut call = ServerCall::new(method, &mut metadata, &mut extensions);
        for interceptor in chain {
            interceptor.intercept(&mut call).await?;
        }
        Ok(tonic::Request::from_parts(metadata, extensions, message))
    }
}

impl std::fmt::Debug for ServerInterceptors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerInterceptors")
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Idempotency, StreamingKind};

    const METHOD: MethodInfo = MethodInfo::new(
        "test.v1.Svc",
        "Call",
        "/test.v1.Svc/Call",
        StreamingKind::Unary,
        Idempotency::Unknown,
    );

    #[tokio::test]
    async fn chain_runs_in_order_and_stops_at_the_first_error() {
        let chain = ServerInterceptors::new()
            .with(|call: &mut ServerCall<'_>| {
                call.metadata_mut().insert("step", "first".parse().unwrap());
                Ok(())
            })
            .with(|call: &mut ServerCall<'_>| {
                assert_eq!(call.metadata().get("step").unwrap(), "first");
                assert_eq!(call.method().path(), "/test.v1.Svc/Call");
                call.extensions_mut().insert(42u32);
                Ok(())
            });
        let request = chain.run(&METHOD, tonic::Request::new(())).await.unwrap();
        assert_eq!(request.extensions().get::<u32>(), Some(&42));

        let failing = chain
            .clone()
            .with(|_: &mut ServerCall<'_>| Err(Status::permission_denied("no")))
            .with(|_: &mut ServerCall<'_>| -> Result<(), Status> {
                panic!("must not run after an error")
            });
        let status = failing
            .run(&METHOD, tonic::Request::new(()))
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
        assert_eq!(failing.len(), 4);
    }

    #[tokio::test]
    async fn empty_chain_passes_the_request_through() {
        let mut request = tonic::Request::new(7u8);
        request.metadata_mut().insert("k", "v".parse().unwrap());
        let request = ServerInterceptors::new()
            .run(&METHOD, request)
            .await
            .unwrap();
        assert_eq!(request.metadata().get("k").unwrap(), "v");
        assert_eq!(*request.get_ref(), 7);
    }
}
