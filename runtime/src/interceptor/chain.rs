use std::sync::Arc;

use tonic::Status;

use super::{Call, ClientInterceptor, InterceptFuture, ServerInterceptor};
use crate::MethodInfo;

/// The ordered chain of interceptors a generated server or client runs. Cloning is cheap (one
/// `Arc`), and an empty chain costs nothing per call.
pub struct Interceptors<I: ?Sized> {
    chain: Option<Arc<[Arc<I>]>>,
}

/// The chain a generated server runs before its handlers.
pub type ServerInterceptors = Interceptors<dyn ServerInterceptor>;

/// The chain a generated client runs before sending.
pub type ClientInterceptors = Interceptors<dyn ClientInterceptor>;

/// One side's interceptor trait object, so that one chain implementation serves both sides.
pub trait Link: Send + Sync + 'static {
    /// Runs the interceptor.
    fn run_link<'a>(&'a self, call: &'a mut Call<'_>) -> InterceptFuture<'a>;
}

impl Link for dyn ServerInterceptor {
    fn run_link<'a>(&'a self, call: &'a mut Call<'_>) -> InterceptFuture<'a> {
        self.intercept(call)
    }
}

impl Link for dyn ClientInterceptor {
    fn run_link<'a>(&'a self, call: &'a mut Call<'_>) -> InterceptFuture<'a> {
        self.intercept(call)
    }
}

impl<I: ?Sized + Link> Interceptors<I> {
    /// An empty chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the chain with `interceptor` appended: it runs after those added before it. Use
    /// this for an interceptor shared with other services or clients.
    #[must_use]
    pub fn with_shared(self, interceptor: Arc<I>) -> Self {
        let mut chain: Vec<Arc<I>> = self.chain.as_deref().unwrap_or_default().to_vec();
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
        let mut call = Call::new(method, &mut metadata, &mut extensions);
        for interceptor in chain {
            interceptor.run_link(&mut call).await?;
        }
        Ok(tonic::Request::from_parts(metadata, extensions, message))
    }
}

impl ServerInterceptors {
    /// Returns the chain with `interceptor` appended: it runs after those added before it.
    #[must_use]
    pub fn with(self, interceptor: impl ServerInterceptor) -> Self {
        self.with_shared(Arc::new(interceptor))
    }
}

impl ClientInterceptors {
    /// Returns the chain with `interceptor` appended: it runs after those added before it.
    #[must_use]
    pub fn with(self, interceptor: impl ClientInterceptor) -> Self {
        self.with_shared(Arc::new(interceptor))
    }
}

impl<I: ?Sized> Default for Interceptors<I> {
    fn default() -> Self {
        Self { chain: None }
    }
}

impl<I: ?Sized> Clone for Interceptors<I> {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
        }
    }
}

impl<I: ?Sized> std::fmt::Debug for Interceptors<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.chain.as_deref().map_or(0, <[_]>::len);
        f.debug_struct("Interceptors").field("len", &len).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Idempotency, ServerCall, StreamingKind};

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
        assert_eq!(chain.len(), 2, "appending returns a new chain");
    }

    #[tokio::test]
    async fn empty_chain_passes_the_request_through() {
        let mut request = tonic::Request::new(7u8);
        request.metadata_mut().insert("k", "v".parse().unwrap());
        let request = ClientInterceptors::new()
            .run(&METHOD, request)
            .await
            .unwrap();
        assert_eq!(request.metadata().get("k").unwrap(), "v");
        assert_eq!(*request.get_ref(), 7);
    }
}
