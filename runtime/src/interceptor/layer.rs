//! The head chain as a tower layer, for a whole router.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::body::Body as TonicBody;
use tonic::codegen::{Body, BoxFuture, Bytes, Service, StdError, http};
use tonic::metadata::MetadataMap;

use super::chain::run_head;
use super::{Head, HeadInterceptor, Interceptors, Side};
use crate::MethodInfo;

/// Runs a chain's head interceptors in front of a whole service (typically a tonic router, via
/// `Server::builder().layer(…)`), so one auth check covers every service on the server: health,
/// reflection, and paths no service has. Built by [`Interceptors::head_layer`].
///
/// A generated server that carries the same [`Interceptors`] skips the head chain the layer
/// already ran for the call, so installing the chain in both places runs it once.
///
/// ```
/// use greeter_runtime::Interceptors;
/// use greeter_runtime::interceptors::BearerAuth;
///
/// let chain = Interceptors::new().with_head(BearerAuth::new("secret"));
/// let layer = chain.head_layer(&[]); // pass the generated `METHODS` to resolve MethodInfo
/// let router = tonic::transport::Server::builder().layer(layer);
/// # let _ = router;
/// ```
#[derive(Clone)]
pub struct HeadLayer {
    chain: Option<Arc<[Arc<dyn HeadInterceptor>]>>,
    methods: Arc<HashMap<&'static str, &'static MethodInfo>>,
}

impl HeadLayer {
    pub(crate) fn new(interceptors: Interceptors, methods: &[&'static [MethodInfo]]) -> Self {
        let methods = methods
            .iter()
            .flat_map(|service| service.iter())
            .map(|method| (method.path(), method))
            .collect();
        Self {
            chain: interceptors.head_chain().cloned(),
            methods: Arc::new(methods),
        }
    }
}

impl std::fmt::Debug for HeadLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadLayer")
            .field("head", &self.chain.as_deref().map_or(0, <[_]>::len))
            .field("methods", &self.methods.len())
            .finish()
    }
}

impl<S> tower_layer::Layer<S> for HeadLayer {
    type Service = HeadService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HeadService {
            inner,
            layer: self.clone(),
        }
    }
}

/// Marks a request whose head the layer already ran this chain on.
#[derive(Clone)]
pub(crate) struct HeadDone(pub(crate) Arc<[Arc<dyn HeadInterceptor>]>);

/// A service behind a [`HeadLayer`].
#[derive(Clone, Debug)]
pub struct HeadService<S> {
    inner: S,
    layer: HeadLayer,
}

impl<S, B, ResBody> Service<http::Request<B>> for HeadService<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<StdError>,
{
    type Response = http::Response<TonicBody>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let Some(chain) = self.layer.chain.clone() else {
            let future = self.inner.call(request);
            return Box::pin(async move { Ok(future.await?.map(TonicBody::new)) });
        };
        // The ready service answers this call; a fresh clone waits for the next `poll_ready`.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let methods = Arc::clone(&self.layer.methods);
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let path = parts.uri.path();
            let method = methods.get(path).copied();
            let mut metadata = MetadataMap::from_headers(std::mem::take(&mut parts.headers));
            let mut head = Head::new(
                Side::Server,
                method,
                path,
                &mut metadata,
                &mut parts.extensions,
            );
            let verdict = run_head(&chain, &mut head).await;
            parts.headers = metadata.into_headers();
            if let Err(status) = verdict {
                return Ok(status.into_http());
            }
            parts.extensions.insert(HeadDone(chain));
            let response = inner.call(http::Request::from_parts(parts, body)).await?;
            Ok(response.map(TonicBody::new))
        })
    }
}
