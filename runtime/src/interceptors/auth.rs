use tonic::Status;

use crate::interceptor::{Head, HeadInterceptor, InterceptFuture};

/// Server head interceptor that requires `authorization: Bearer <token>` on every call and
/// answers `UNAUTHENTICATED` otherwise, on the request head: before the request body is read and
/// before any handler runs.
///
/// The comparison takes the same time whatever the position of the first differing byte, so the
/// token cannot be guessed byte by byte from response times.
///
/// ```
/// use greeter_runtime::{Interceptors, interceptors::BearerAuth};
///
/// let chain = Interceptors::new().with_head(BearerAuth::new("some-secret-token"));
/// assert_eq!(chain.head_len(), 1);
/// ```
#[derive(Clone)]
pub struct BearerAuth {
    token: String,
}

impl BearerAuth {
    /// Accepts calls that carry exactly this token.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
        }
    }

    /// The check itself, on any metadata: `Ok` when it carries `authorization: Bearer <token>`
    /// with this token, else `UNAUTHENTICATED` saying what was wrong. For use outside a chain,
    /// e.g. in a plain tonic interceptor:
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
    pub fn verify(&self, metadata: &tonic::metadata::MetadataMap) -> Result<(), Status> {
        let value = metadata
            .get("authorization")
            .ok_or_else(|| Status::unauthenticated("missing authorization metadata"))?;
        let presented = value
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| Status::unauthenticated("authorization must be `Bearer <token>`"))?;
        if constant_time_eq(presented.as_bytes(), self.token.as_bytes()) {
            Ok(())
        } else {
            Err(Status::unauthenticated("invalid token"))
        }
    }
}

impl std::fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerAuth").finish_non_exhaustive()
    }
}

impl HeadInterceptor for BearerAuth {
    fn head<'a>(&'a self, head: &'a mut Head<'_>) -> InterceptFuture<'a> {
        Box::pin(std::future::ready(self.verify(head.metadata())))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interceptor::Side;

    async fn call_with(authorization: Option<&str>) -> Result<(), Status> {
        let auth = BearerAuth::new("secret");
        let mut metadata = tonic::metadata::MetadataMap::new();
        if let Some(value) = authorization {
            metadata.insert("authorization", value.parse().unwrap());
        }
        let mut extensions = tonic::Extensions::new();
        let mut head = Head::new(Side::Server, None, "/t.S/M", &mut metadata, &mut extensions);
        auth.head(&mut head).await
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
