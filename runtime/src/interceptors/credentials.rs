use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tonic::Status;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, MetadataMap};

use crate::MethodInfo;
use crate::interceptor::{Head, HeadInterceptor, InterceptFuture, ready};

/// Client head interceptor that attaches `authorization: Bearer <token>` to every call, the
/// value marked sensitive (kept out of logs and HTTP/2 header compression tables).
///
/// **It refuses to send the token over plaintext.** A call whose channel is not known to be TLS
/// ([`Head::is_secure`]) ends locally with `UNAUTHENTICATED` and a message saying why, before
/// anything is sent: the generated client knows the channel's security when it was built with
/// `connect("https://…")` or `with_origin(channel, uri)`, not with `new(channel)`. A channel
/// that is plaintext on purpose (a loopback test, a sidecar) needs an explicit
/// [`allow_plaintext`](Self::allow_plaintext).
///
/// The token is fixed ([`new`](Self::new)) or fetched for every call from an async source
/// ([`from_source`](Self::from_source)), such as a cache that refreshes an expiring token.
///
/// ```
/// use greeter_runtime::Interceptors;
/// use greeter_runtime::interceptors::BearerToken;
///
/// assert!(BearerToken::new("line\nbreak").is_err());
/// // Sent over TLS only.
/// let chain = Interceptors::new().with_head(BearerToken::new("some-secret-token").unwrap());
/// // Sent over a plaintext channel too: for loopback and tests.
/// let local = BearerToken::new("dev-token").unwrap().allow_plaintext();
/// // A fresh token for every call.
/// let refreshed = BearerToken::from_source(|| async { Ok::<_, tonic::Status>("fresh".to_owned()) });
/// # let _ = (chain, local, refreshed);
/// ```
#[derive(Clone)]
pub struct BearerToken {
    token: Token,
    allow_plaintext: bool,
}

/// Where a [`BearerToken`] gets its token.
#[derive(Clone)]
enum Token {
    /// The whole `Bearer <token>` value, checked once.
    Fixed(AsciiMetadataValue),
    /// Asked on every call.
    Source(Arc<dyn Fn() -> TokenFuture + Send + Sync>),
}

type TokenFuture = Pin<Box<dyn Future<Output = Result<String, Status>> + Send>>;

impl BearerToken {
    /// Sends `token` on every call (over TLS only, unless [`allow_plaintext`](Self::allow_plaintext)).
    /// Fails when the token cannot be sent as a header value.
    pub fn new(token: &str) -> Result<Self, InvalidMetadata> {
        let value = bearer_value(token)
            .ok_or_else(|| InvalidMetadata::Value("authorization".to_owned()))?;
        Ok(Self {
            token: Token::Fixed(value),
            allow_plaintext: false,
        })
    }

    /// Asks `source` for the token on every call, after the transport check: a token that
    /// expires can be refreshed there. An error from the source ends the call with that status;
    /// a token that cannot be sent as a header value ends it `UNAUTHENTICATED`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use greeter_runtime::interceptors::BearerToken;
    ///
    /// /// A token some other task renews.
    /// let current = Arc::new(Mutex::new("first-token".to_owned()));
    /// let shared = Arc::clone(&current);
    /// let credentials = BearerToken::from_source(move || {
    ///     let token = shared.lock().unwrap().clone();
    ///     async move { Ok(token) }
    /// });
    /// *current.lock().unwrap() = "renewed-token".to_owned();
    /// # let _ = credentials;
    /// ```
    pub fn from_source<F, Fut>(source: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, Status>> + Send + 'static,
    {
        Self {
            token: Token::Source(Arc::new(move || Box::pin(source()) as TokenFuture)),
            allow_plaintext: false,
        }
    }

    /// Sends the token also over a channel that is plaintext or whose security the client does
    /// not know. Anyone on the path can then read it: for loopback, tests and trusted sidecars.
    #[must_use]
    pub fn allow_plaintext(mut self) -> Self {
        self.allow_plaintext = true;
        self
    }

    /// The refusal for a call over a channel of this security, if the token may not go there.
    fn refusal(&self, secure: Option<bool>) -> Option<Status> {
        let why = match (secure, self.allow_plaintext) {
            (Some(true), _) | (_, true) => return None,
            (Some(false), false) => "the channel is plaintext (http)",
            (None, false) => {
                "the client does not know whether its channel is TLS (it was built with \
                 `new(channel)`; build it with `connect(url)` or `with_origin(channel, uri)`)"
            }
        };
        Some(Status::unauthenticated(format!(
            "refusing to send the bearer token: {why}; use an https channel, or build the \
             BearerToken with `.allow_plaintext()` to send it in the clear"
        )))
    }
}

/// `Bearer <token>` as a sensitive header value, if it can be one.
fn bearer_value(token: &str) -> Option<AsciiMetadataValue> {
    let mut value: AsciiMetadataValue = format!("Bearer {token}").parse().ok()?;
    value.set_sensitive(true);
    Some(value)
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let token = match self.token {
            Token::Fixed(_) => "fixed",
            Token::Source(_) => "from a source",
        };
        f.debug_struct("BearerToken")
            .field("token", &token)
            .field("allow_plaintext", &self.allow_plaintext)
            .finish()
    }
}

impl HeadInterceptor for BearerToken {
    fn head<'a>(&'a self, head: &'a mut Head<'_>) -> InterceptFuture<'a> {
        if let Some(refusal) = self.refusal(head.is_secure()) {
            return ready(Err(refusal));
        }
        match &self.token {
            Token::Fixed(value) => {
                head.metadata_mut().insert("authorization", value.clone());
                ready(Ok(()))
            }
            Token::Source(source) => {
                let fetching = source();
                Box::pin(async move {
                    let token = fetching.await?;
                    let value = bearer_value(&token).ok_or_else(|| {
                        Status::unauthenticated(
                            "the token source returned a token that cannot be sent as metadata",
                        )
                    })?;
                    head.metadata_mut().insert("authorization", value);
                    Ok(())
                })
            }
        }
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
        ready(Ok(()))
    }
}

/// Client head interceptor that asks an async function for metadata on every call, such as a
/// request id, a signature or a value read from a cache that another task refreshes. Each key
/// it returns replaces any value the call already has for that key.
///
/// For metadata computed without waiting, a closure is already a head interceptor:
/// `|head: &mut Head<'_>| { head.metadata_mut().insert(…); Ok(()) }`. For a token, use
/// [`BearerToken::from_source`], which also refuses plaintext channels.
///
/// The function gets the method being called. It does not run where the method is unknown
/// (a server's [head layer](crate::Interceptors::head_layer) on a path of no listed service).
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use greeter_runtime::Interceptors;
/// use greeter_runtime::interceptors::DynamicMetadata;
/// use tonic::metadata::MetadataMap;
///
/// let next_id = Arc::new(AtomicU64::new(1));
/// let request_ids = DynamicMetadata::new(move |method| {
///     let id = next_id.fetch_add(1, Ordering::Relaxed);
///     async move {
///         let mut metadata = MetadataMap::new();
///         metadata.insert("x-request-id", format!("{}-{id}", method.method()).parse().unwrap());
///         Ok(metadata)
///     }
/// });
/// let chain = Interceptors::new().with_head(request_ids);
/// # let _ = chain;
/// ```
#[derive(Clone)]
pub struct DynamicMetadata {
    source: Arc<dyn Fn(&'static MethodInfo) -> MetadataFuture + Send + Sync>,
}

type MetadataFuture = Pin<Box<dyn Future<Output = Result<MetadataMap, Status>> + Send>>;

impl DynamicMetadata {
    /// Adds what `source` returns to every call; an error from it ends the call with that
    /// status.
    pub fn new<F, Fut>(source: F) -> Self
    where
        F: Fn(&'static MethodInfo) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<MetadataMap, Status>> + Send + 'static,
    {
        Self {
            source: Arc::new(move |method| Box::pin(source(method)) as MetadataFuture),
        }
    }
}

impl std::fmt::Debug for DynamicMetadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamicMetadata").finish_non_exhaustive()
    }
}

impl HeadInterceptor for DynamicMetadata {
    fn head<'a>(&'a self, head: &'a mut Head<'_>) -> InterceptFuture<'a> {
        let Some(method) = head.method() else {
            return ready(Ok(()));
        };
        let fetching = (self.source)(method);
        Box::pin(async move {
            let metadata = fetching.await?;
            // `HeaderMap::extend` replaces the values of each key it brings.
            head.metadata_mut().as_mut().extend(metadata.into_headers());
            Ok(())
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interceptor::Side;
    use crate::{Idempotency, StreamingKind};

    static METHOD: MethodInfo = MethodInfo::new(
        "t.S",
        "M",
        "/t.S/M",
        StreamingKind::Unary,
        Idempotency::Unknown,
    );

    /// Runs `interceptor` on a client call of [`METHOD`] over a channel of this security,
    /// starting from `metadata`: the metadata it leaves, or its refusal.
    async fn run(
        interceptor: &impl HeadInterceptor,
        secure: Option<bool>,
        mut metadata: MetadataMap,
    ) -> Result<MetadataMap, Status> {
        let mut extensions = tonic::Extensions::new();
        let mut head = Head::new(
            Side::Client,
            Some(&METHOD),
            METHOD.path(),
            &mut metadata,
            &mut extensions,
        )
        .with_transport_security(secure);
        interceptor.head(&mut head).await?;
        Ok(metadata)
    }

    fn authorization(metadata: &MetadataMap) -> Option<&str> {
        metadata
            .get("authorization")
            .and_then(|value| value.to_str().ok())
    }

    #[tokio::test]
    async fn the_token_goes_over_tls_only_unless_plaintext_is_allowed() {
        let token = BearerToken::new("secret").unwrap();
        let sent = run(&token, Some(true), MetadataMap::new()).await.unwrap();
        assert_eq!(authorization(&sent), Some("Bearer secret"));
        assert!(sent.get("authorization").unwrap().is_sensitive());

        let plaintext = run(&token, Some(false), MetadataMap::new())
            .await
            .unwrap_err();
        assert_eq!(plaintext.code(), tonic::Code::Unauthenticated);
        assert!(
            plaintext.message().contains("plaintext (http)")
                && plaintext.message().contains(".allow_plaintext()"),
            "{}",
            plaintext.message()
        );
        let unknown = run(&token, None, MetadataMap::new()).await.unwrap_err();
        assert_eq!(unknown.code(), tonic::Code::Unauthenticated);
        assert!(
            unknown
                .message()
                .contains("does not know whether its channel is TLS")
                && unknown.message().contains("with_origin")
                && unknown.message().contains(".allow_plaintext()"),
            "{}",
            unknown.message()
        );
        assert!(!unknown.message().contains("secret"));

        let allowed = token.allow_plaintext();
        for secure in [Some(false), None, Some(true)] {
            let sent = run(&allowed, secure, MetadataMap::new()).await.unwrap();
            assert_eq!(authorization(&sent), Some("Bearer secret"), "{secure:?}");
        }
    }

    #[tokio::test]
    async fn a_source_is_asked_on_every_call_and_never_over_plaintext() {
        let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&asked);
        let token = BearerToken::from_source(move || {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            async move {
                match n {
                    3 => Err(Status::unavailable("token service down")),
                    4 => Ok("bad\ntoken".to_owned()),
                    _ => Ok(format!("token-{n}")),
                }
            }
        });
        let first = run(&token, Some(true), MetadataMap::new()).await.unwrap();
        assert_eq!(authorization(&first), Some("Bearer token-1"));
        let second = run(&token, Some(true), MetadataMap::new()).await.unwrap();
        assert_eq!(authorization(&second), Some("Bearer token-2"));
        let down = run(&token, Some(true), MetadataMap::new())
            .await
            .unwrap_err();
        assert_eq!(
            (down.code(), down.message()),
            (tonic::Code::Unavailable, "token service down")
        );
        let bad = run(&token, Some(true), MetadataMap::new())
            .await
            .unwrap_err();
        assert_eq!(bad.code(), tonic::Code::Unauthenticated);
        let refused = run(&token, Some(false), MetadataMap::new())
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unauthenticated);
        // The refusal comes before the source is asked.
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 4);
        assert!(!format!("{token:?}").contains("token-"));
    }

    #[tokio::test]
    async fn dynamic_metadata_replaces_the_keys_it_returns() {
        let dynamic = DynamicMetadata::new(|method: &'static MethodInfo| async move {
            let mut metadata = MetadataMap::new();
            metadata.insert("x-method", method.method().parse().unwrap());
            metadata.append("x-tag", "a".parse().unwrap());
            metadata.append("x-tag", "b".parse().unwrap());
            Ok(metadata)
        });
        let mut before = MetadataMap::new();
        before.insert("x-method", "stale".parse().unwrap());
        before.insert("x-kept", "yes".parse().unwrap());
        let after = run(&dynamic, None, before).await.unwrap();
        assert_eq!(after.get("x-method").unwrap(), "M");
        assert_eq!(after.get_all("x-method").iter().count(), 1);
        let tags: Vec<_> = after.get_all("x-tag").iter().collect();
        assert_eq!(tags, ["a", "b"]);
        assert_eq!(after.get("x-kept").unwrap(), "yes");

        let failing = DynamicMetadata::new(|_| async { Err(Status::internal("no signer")) });
        let status = run(&failing, None, MetadataMap::new()).await.unwrap_err();
        assert_eq!(status.message(), "no signer");
    }

    #[tokio::test]
    async fn static_metadata_is_checked_once_and_appended() {
        assert_eq!(
            StaticMetadata::new([("Bad Key", "x")]).unwrap_err(),
            InvalidMetadata::Key("Bad Key".to_owned())
        );
        assert_eq!(
            StaticMetadata::new([("k", "line\nbreak")]).unwrap_err(),
            InvalidMetadata::Value("k".to_owned())
        );
        let fixed = StaticMetadata::new([("client-os", "plan9")]).unwrap();
        let mut before = MetadataMap::new();
        before.insert("client-os", "linux".parse().unwrap());
        let after = run(&fixed, Some(false), before).await.unwrap();
        let values: Vec<_> = after.get_all("client-os").iter().collect();
        assert_eq!(values, ["linux", "plan9"]);
    }
}
