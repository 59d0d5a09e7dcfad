use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::MethodInfo;
use crate::interceptor::{Head, HeadInterceptor, InterceptFuture, ready};

/// Server head interceptor that requires `authorization: Bearer <token>` on every call and
/// answers `UNAUTHENTICATED` otherwise, on the request head: before the request body is read and
/// before any handler runs.
///
/// Two ways to judge the token:
/// - [`new`](Self::new): one shared token, compared in the same time whatever the position of
///   the first differing byte, so it cannot be guessed byte by byte from response times;
/// - [`with_validator`](Self::with_validator): an async function that returns the caller's
///   identity (any `Clone` type), which reaches the handler through the request extensions:
///   `request.extensions().get::<Identity>()`.
///
/// Methods or whole services can be let through without a token
/// ([`skip_method`](Self::skip_method), [`skip_service`](Self::skip_service)), such as the
/// health service when the chain runs as a [head layer](crate::Interceptors::head_layer).
///
/// ```
/// use greeter_runtime::{Interceptors, interceptors::BearerAuth};
///
/// let chain = Interceptors::new().with_head(
///     BearerAuth::new("some-secret-token").skip_service("grpc.health.v1.Health"),
/// );
/// assert_eq!(chain.head_len(), 1);
///
/// /// Who called, as the handler reads it from the request extensions.
/// #[derive(Clone)]
/// struct User(String);
///
/// let auth = BearerAuth::with_validator(|token: String| async move {
///     match token.strip_prefix("user-") {
///         Some(name) => Ok(User(name.to_owned())),
///         None => Err(tonic::Status::unauthenticated("unknown token")),
///     }
/// });
/// # let _ = auth;
/// ```
#[derive(Clone)]
pub struct BearerAuth {
    verifier: Arc<dyn Verifier>,
    /// Full method paths (`/pkg.Service/Method`) and service prefixes (`/pkg.Service/`) let
    /// through without a token.
    skipped: Arc<[String]>,
}

impl BearerAuth {
    /// Accepts calls that carry exactly this token.
    pub fn new(token: impl Into<String>) -> Self {
        Self::with_verifier(SharedToken(token.into().into_bytes()))
    }

    /// Accepts calls whose token `validator` accepts, and hands the identity it returns to the
    /// handler through the request extensions. The error it returns is the call's answer (say
    /// `UNAUTHENTICATED`, or `PERMISSION_DENIED`).
    pub fn with_validator<F, Fut, I>(validator: F) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<I, Status>> + Send + 'static,
        I: Clone + Send + Sync + 'static,
    {
        Self::with_verifier(Validator {
            validate: validator,
            identity: PhantomData,
        })
    }

    fn with_verifier(verifier: impl Verifier) -> Self {
        Self {
            verifier: Arc::new(verifier),
            skipped: Arc::new([]),
        }
    }

    /// Lets calls of `method` through without a token.
    #[must_use]
    pub fn skip_method(self, method: &MethodInfo) -> Self {
        self.skipping(method.path().to_owned())
    }

    /// Lets calls of every method of the service `service` (its full name, such as
    /// `grpc.health.v1.Health`) through without a token.
    #[must_use]
    pub fn skip_service(self, service: &str) -> Self {
        self.skipping(format!("/{service}/"))
    }

    fn skipping(mut self, path: String) -> Self {
        let mut skipped = self.skipped.to_vec();
        skipped.push(path);
        self.skipped = skipped.into();
        self
    }

    fn skips(&self, path: &str) -> bool {
        self.skipped
            .iter()
            .any(|skipped| match skipped.ends_with('/') {
                true => path.starts_with(skipped.as_str()),
                false => path == skipped,
            })
    }

    /// The shared-token check on any metadata: `Ok` when it carries `authorization: Bearer
    /// <token>` with this token, else `UNAUTHENTICATED` saying what was wrong. For use outside a
    /// chain, e.g. in a plain tonic interceptor. A validator's check is async: it runs only in
    /// a chain, and this answers `UNAUTHENTICATED` for it.
    ///
    /// ```
    /// use greeter_runtime::interceptors::BearerAuth;
    ///
    /// let auth = BearerAuth::new("some-secret-token");
    /// let interceptor = move |request: tonic::Request<()>| -> Result<_, tonic::Status> {
    ///     auth.verify(request.metadata())?;
    ///     Ok(request)
    /// };
    /// let mut request = tonic::Request::new(());
    /// request.metadata_mut().insert("authorization", "Bearer some-secret-token".parse().unwrap());
    /// assert!(interceptor(request).is_ok());
    /// assert!(interceptor(tonic::Request::new(())).is_err());
    /// ```
    pub fn verify(&self, metadata: &MetadataMap) -> Result<(), Status> {
        self.verifier.verify(metadata)
    }
}

/// The token of `authorization: Bearer <token>` metadata.
fn bearer_token(metadata: &MetadataMap) -> Result<&str, Status> {
    let value = metadata
        .get("authorization")
        .ok_or_else(|| Status::unauthenticated("missing authorization metadata"))?;
    value
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| Status::unauthenticated("authorization must be `Bearer <token>`"))
}

/// How a [`BearerAuth`] judges a presented token.
trait Verifier: Send + Sync + 'static {
    /// Checks the bearer token of `head`; on success may leave an identity in its extensions.
    fn check<'a>(&'a self, head: &'a mut Head<'_>) -> InterceptFuture<'a>;

    /// The same check on any metadata, synchronously: only a shared token can answer here.
    fn verify(&self, metadata: &MetadataMap) -> Result<(), Status> {
        bearer_token(metadata)?;
        Err(Status::unauthenticated(
            "this authenticator validates tokens asynchronously: run it in a chain",
        ))
    }
}

/// One token every caller shares.
struct SharedToken(Vec<u8>);

impl Verifier for SharedToken {
    fn check<'a>(&'a self, head: &'a mut Head<'_>) -> InterceptFuture<'a> {
        ready(self.verify(head.metadata()))
    }

    fn verify(&self, metadata: &MetadataMap) -> Result<(), Status> {
        match constant_time_eq(bearer_token(metadata)?.as_bytes(), &self.0) {
            true => Ok(()),
            false => Err(Status::unauthenticated("invalid token")),
        }
    }
}

/// A user's async validator returning an identity.
struct Validator<F, I> {
    validate: F,
    identity: PhantomData<fn() -> I>,
}

impl<F, Fut, I> Verifier for Validator<F, I>
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<I, Status>> + Send + 'static,
    I: Clone + Send + Sync + 'static,
{
    fn check<'a>(&'a self, head: &'a mut Head<'_>) -> InterceptFuture<'a> {
        let validating = match bearer_token(head.metadata()) {
            Ok(token) => (self.validate)(token.to_owned()),
            Err(status) => return ready(Err(status)),
        };
        Box::pin(async move {
            let identity = validating.await?;
            head.extensions_mut().insert(identity);
            Ok(())
        })
    }
}

impl std::fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerAuth")
            .field("skipped", &self.skipped)
            .finish_non_exhaustive()
    }
}

impl HeadInterceptor for BearerAuth {
    fn head<'a>(&'a self, head: &'a mut Head<'_>) -> InterceptFuture<'a> {
        if self.skips(head.path()) {
            return ready(Ok(()));
        }
        self.verifier.check(head)
    }
}

/// Whether `a` and `b` are equal, in a time that depends on their lengths only (`subtle`, so the
/// optimiser cannot turn the comparison into an early return).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interceptor::Side;

    #[test]
    fn tokens_are_equal_only_byte_for_byte() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"secret", b""));
        assert!(constant_time_eq(b"", b""));
    }

    async fn call_with(authorization: Option<&str>) -> Result<(), Status> {
        call_on(&BearerAuth::new("secret"), "/t.S/M", authorization)
            .await
            .map(drop)
    }

    /// Runs `auth` on a call of `path`: the extensions it left, or its refusal.
    async fn call_on(
        auth: &BearerAuth,
        path: &str,
        authorization: Option<&str>,
    ) -> Result<tonic::Extensions, Status> {
        let mut metadata = MetadataMap::new();
        if let Some(value) = authorization {
            metadata.insert("authorization", value.parse().unwrap());
        }
        let mut extensions = tonic::Extensions::new();
        let mut head = Head::new(Side::Server, None, path, &mut metadata, &mut extensions);
        auth.head(&mut head).await?;
        Ok(extensions)
    }

    #[derive(Clone, Debug, PartialEq)]
    struct User(String);

    #[tokio::test]
    async fn a_validator_hands_the_identity_on_and_its_error_is_the_answer() {
        let auth = BearerAuth::with_validator(|token: String| async move {
            match token.strip_prefix("user-") {
                Some(name) => Ok(User(name.to_owned())),
                None => Err(Status::permission_denied("not a user token")),
            }
        });
        let extensions = call_on(&auth, "/t.S/M", Some("Bearer user-ann"))
            .await
            .unwrap();
        assert_eq!(extensions.get::<User>(), Some(&User("ann".to_owned())));
        let refused = call_on(&auth, "/t.S/M", Some("Bearer robot"))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
        let missing = call_on(&auth, "/t.S/M", None).await.unwrap_err();
        assert_eq!(missing.code(), tonic::Code::Unauthenticated);
        assert_eq!(
            auth.verify(&MetadataMap::new()).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
    }

    #[tokio::test]
    async fn skipped_methods_and_services_need_no_token() {
        const CHECK: MethodInfo = MethodInfo::new(
            "t.Probe",
            "Check",
            "/t.Probe/Check",
            crate::StreamingKind::Unary,
            crate::Idempotency::Unknown,
        );
        let auth = BearerAuth::new("secret")
            .skip_method(&CHECK)
            .skip_service("grpc.health.v1.Health");
        assert!(call_on(&auth, "/t.Probe/Check", None).await.is_ok());
        assert!(
            call_on(&auth, "/grpc.health.v1.Health/Watch", None)
                .await
                .is_ok()
        );
        for path in ["/t.Probe/Other", "/grpc.health.v1.HealthX/Check", "/t.S/M"] {
            let refused = call_on(&auth, path, None).await.unwrap_err();
            assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{path}");
        }
    }

    #[tokio::test]
    async fn accepts_only_the_right_bearer_token() {
        assert!(call_with(Some("Bearer secret")).await.is_ok());
        for (value, message) in [
            (None, "missing authorization metadata"),
            (Some("secret"), "authorization must be `Bearer <token>`"),
            (Some("Bearer secreT"), "invalid token"),
            (Some("Bearer secret2"), "invalid token"),
        ] {
            let status = call_with(value).await.unwrap_err();
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "{value:?}");
            assert_eq!(status.message(), message);
        }
    }
}
