use std::sync::Arc;

use tonic::Status;
use tonic::metadata::MetadataMap;

use super::InterceptFuture;
use crate::MethodInfo;

/// What a client interceptor sees of an outgoing call: the method and the request's metadata and
/// extensions, mutable so it can attach credentials or tracing headers.
#[derive(Debug)]
pub struct ClientCall<'a> {
    method: &'static MethodInfo,
    metadata: &'a mut MetadataMap,
    extensions: &'a mut tonic::Extensions,
}

impl<'a> ClientCall<'a> {
    /// Builds a view over one outgoing request's head.
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

    /// The outgoing metadata.
    pub fn metadata(&self) -> &MetadataMap {
        self.metadata
    }

    /// The outgoing metadata, mutable.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        self.metadata
    }

    /// The request's extensions.
    pub fn extensions_mut(&mut self) -> &mut tonic::Extensions {
        self.extensions
    }
}

/// A hook run by a generated client before every call it sends.
///
/// ```
/// use greeter_runtime::{ClientCall, ClientInterceptor, InterceptFuture};
///
/// /// Tags every call with the method name, for a proxy's logs.
/// struct TagMethod;
///
/// impl ClientInterceptor for TagMethod {
///     fn intercept<'a>(&'a self, call: &'a mut ClientCall<'_>) -> InterceptFuture<'a> {
///         Box::pin(async move {
///             let value = call.method().method().parse().expect("method names are ASCII");
///             call.metadata_mut().insert("x-method", value);
///             Ok(())
///         })
///     }
/// }
/// ```
pub trait ClientInterceptor: Send + Sync + 'static {
    /// Inspects or edits the call; `Err(status)` fails the call without sending it.
    fn intercept<'a>(&'a self, call: &'a mut ClientCall<'_>) -> InterceptFuture<'a>;
}

/// Any `Fn(&mut ClientCall) -> Result<(), Status>` is a (synchronous) client interceptor.
impl<F> ClientInterceptor for F
where
    F: Fn(&mut ClientCall<'_>) -> Result<(), Status> + Send + Sync + 'static,
{
    fn intercept<'a>(&'a self, call: &'a mut ClientCall<'_>) -> InterceptFuture<'a> {
        Box::pin(std::future::ready(self(call)))
    }
}

/// The ordered chain of interceptors a generated client runs. Cloning is cheap, and an empty
/// chain costs nothing per call.
#[derive(Clone, Default)]
pub struct ClientInterceptors {
    chain: Option<Arc<[Arc<dyn ClientInterceptor>]>>,
}

impl ClientInterceptors {
    /// An empty chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the chain with `interceptor` appended: it runs after those added before it.
    #[must_use]
    pub fn with(self, interceptor: impl ClientInterceptor) -> Self {
        self.with_shared(Arc::new(interceptor))
    }

    /// Like [`with`](Self::with), for an interceptor shared with other clients.
    #[must_use]
    pub fn with_shared(self, interceptor: Arc<dyn ClientInterceptor>) -> Self {
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
        let mut call = ClientCall::new(method, &mut metadata, &mut extensions);
        for interceptor in chain {
            interceptor.intercept(&mut call).await?;
        }
        Ok(tonic::Request::from_parts(metadata, extensions, message))
    }
}

impl std::fmt::Debug for ClientInterceptors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientInterceptors")
            .field("len", &self.len())
            .finish()
    }
}
