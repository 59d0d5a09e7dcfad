use tonic::Status;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue};

use crate::interceptor::{Head, HeadInterceptor, InterceptFuture};

/// Client head interceptor that attaches `authorization: Bearer <token>` to every call.
///
/// ```
/// use greeter_runtime::interceptors::BearerToken;
///
/// assert!(BearerToken::new("some-secret-token").is_ok());
/// assert!(BearerToken::new("line\nbreak").is_err());
/// ```
#[derive(Clone)]
pub struct BearerToken {
    value: AsciiMetadataValue,
}

impl BearerToken {
    /// Fails when the token cannot be sent as a header value.
    pub fn new(token: &str) -> Result<Self, InvalidMetadata> {
        let mut value: AsciiMetadataValue = format!("Bearer {token}")
            .parse()
            .map_err(|_| InvalidMetadata::Value("authorization".to_owned()))?;
        value.set_sensitive(true);
        Ok(Self { value })
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerToken").finish_non_exhaustive()
    }
}

impl HeadInterceptor for BearerToken {
    fn head<'a>(&'a self, head: &'a mut Head<'_>) -> InterceptFuture<'a> {
        head.metadata_mut()
            .insert("authorization", self.value.clone());
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Client head interceptor that attaches fixed ASCII metadata (say `client-os: linux`) to every call.
///
/// ```
/// use greeter_runtime::interceptors::StaticMetadata;
///
/// let metadata = StaticMetadata::new([("client-os", std::env::consts::OS)]).unwrap();
/// assert!(StaticMetadata::new([("Bad Key", "x")]).is_err());
/// # drop(metadata);
/// ```
#[derive(Debug, Clone)]
pub struct StaticMetadata {
    pairs: Vec<(AsciiMetadataKey, AsciiMetadataValue)>,
}

impl StaticMetadata {
    /// Validates every key and value once, here, rather than on every call.
    pub fn new<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, InvalidMetadata> {
        let pairs = pairs
            .into_iter()
            .map(|(key, value)| {
                let parsed_key = key
                    .parse()
                    .map_err(|_| InvalidMetadata::Key(key.to_owned()))?;
                let parsed_value = value
                    .parse()
                    .map_err(|_| InvalidMetadata::Value(key.to_owned()))?;
                Ok((parsed_key, parsed_value))
            })
            .collect::<Result<_, InvalidMetadata>>()?;
        Ok(Self { pairs })
    }
}

impl HeadInterceptor for StaticMetadata {
    fn head<'a>(&'a self, head: &'a mut Head<'_>) -> InterceptFuture<'a> {
        for (key, value) in &self.pairs {
            head.metadata_mut().append(key.clone(), value.clone());
        }
        Box::pin(std::future::ready(Ok::<(), Status>(())))
    }
}

/// A metadata key or value that cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidMetadata {
    /// The key is not a valid lower-case ASCII metadata key.
    #[error("invalid metadata key `{0}`")]
    Key(String),
    /// The value for this key is not printable ASCII.
    #[error("invalid metadata value for `{0}`")]
    Value(String),
}
