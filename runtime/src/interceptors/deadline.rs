use std::time::{Duration, Instant};

use crate::MethodInfo;
use crate::interceptor::{Head, HeadInterceptor, InterceptFuture, ready};

/// Server head interceptor that bounds every call by a server-side maximum: a call ends
/// `DEADLINE_EXCEEDED` at the earlier of the client's `grpc-timeout` and `max` after it arrived,
/// its handler's future and response stream dropped.
///
/// The client's own `grpc-timeout` is enforced by every generated server, with or without this
/// interceptor; this adds the server's limit (also to calls that set no timeout).
///
/// ```
/// use std::time::Duration;
/// use greeter_runtime::Interceptors;
/// use greeter_runtime::interceptors::MaxDeadline;
///
/// let chain = Interceptors::new().with_head(MaxDeadline::new(Duration::from_secs(30)));
/// assert_eq!(chain.head_len(), 1);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MaxDeadline {
    max: Duration,
}

impl MaxDeadline {
    /// No call runs longer than `max`.
    pub fn new(max: Duration) -> Self {
        Self { max }
    }
}

impl HeadInterceptor for MaxDeadline {
    fn head<'a>(&'a self, head: &'a mut Head<'_>) -> InterceptFuture<'a> {
        head.set_deadline(Instant::now() + self.max);
        ready(Ok(()))
    }
}

/// Client head interceptor that gives calls a deadline when the caller set none (no
/// `grpc-timeout`, no [`Deadline`](crate::interceptor::Deadline)): one for every method, and
/// others per method. The generated client sends it as `grpc-timeout` and gives up on the call
/// with `DEADLINE_EXCEEDED` when it passes, response streams included.
///
/// ```
/// use std::time::Duration;
/// use greeter_runtime::interceptors::DefaultDeadline;
/// use greeter_runtime::{Idempotency, Interceptors, MethodInfo, StreamingKind};
///
/// const LOTS_OF_REPLIES: MethodInfo = MethodInfo::new(
///     "greeter.v1.Greeter", "LotsOfReplies", "/greeter.v1.Greeter/LotsOfReplies",
///     StreamingKind::ServerStreaming, Idempotency::Unknown,
/// );
/// let deadlines = DefaultDeadline::all(Duration::from_secs(5))
///     .method(&LOTS_OF_REPLIES, Duration::from_secs(60));
/// let chain = Interceptors::new().with_head(deadlines);
/// # let _ = chain;
/// ```
#[derive(Debug, Clone, Default)]
pub struct DefaultDeadline {
    all: Option<Duration>,
    methods: Vec<(&'static str, Duration)>,
}

impl DefaultDeadline {
    /// Every call gets `timeout` unless a method has its own.
    pub fn all(timeout: Duration) -> Self {
        Self {
            all: Some(timeout),
            methods: Vec::new(),
        }
    }

    /// Only the methods given with [`method`](Self::method) get a default.
    pub fn none() -> Self {
        Self::default()
    }

    /// Calls of `method` get `timeout` (the last one given for a method wins).
    #[must_use]
    pub fn method(mut self, method: &MethodInfo, timeout: Duration) -> Self {
        self.methods.retain(|(path, _)| *path != method.path());
        self.methods.push((method.path(), timeout));
        self
    }

    /// The default for the method at `path`.
    fn timeout_for(&self, path: &str) -> Option<Duration> {
        self.methods
            .iter()
            .find(|(method, _)| *method == path)
            .map(|(_, timeout)| *timeout)
            .or(self.all)
    }
}

impl HeadInterceptor for DefaultDeadline {
    fn head<'a>(&'a self, head: &'a mut Head<'_>) -> InterceptFuture<'a> {
        let set_by_caller =
            head.deadline().is_some() || head.metadata().contains_key("grpc-timeout");
        if !set_by_caller && let Some(timeout) = self.timeout_for(head.path()) {
            head.set_deadline(Instant::now() + timeout);
        }
        ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use tonic::metadata::MetadataMap;

    use super::*;
    use crate::interceptor::Side;
    use crate::{Idempotency, StreamingKind};

    const SLOW: MethodInfo = MethodInfo::new(
        "t.S",
        "Slow",
        "/t.S/Slow",
        StreamingKind::Unary,
        Idempotency::Unknown,
    );

    /// The deadline `interceptor` leaves on a call of `path`, as a duration from now.
    async fn left(
        interceptor: &impl HeadInterceptor,
        path: &str,
        metadata: &mut MetadataMap,
    ) -> Option<Duration> {
        let mut extensions = tonic::Extensions::new();
        let mut head = Head::new(Side::Client, None, path, metadata, &mut extensions);
        interceptor.head(&mut head).await.unwrap();
        head.deadline()
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    #[tokio::test]
    async fn defaults_apply_per_method_then_to_all_unless_the_caller_set_one() {
        let defaults = DefaultDeadline::all(Duration::from_secs(5))
            .method(&SLOW, Duration::from_secs(60))
            .method(&SLOW, Duration::from_secs(90));
        let slow = left(&defaults, "/t.S/Slow", &mut MetadataMap::new())
            .await
            .unwrap();
        assert!(slow > Duration::from_secs(89) && slow <= Duration::from_secs(90));
        let other = left(&defaults, "/t.S/Other", &mut MetadataMap::new())
            .await
            .unwrap();
        assert!(other > Duration::from_secs(4) && other <= Duration::from_secs(5));
        let mut timed = MetadataMap::new();
        timed.insert("grpc-timeout", "1S".parse().unwrap());
        assert_eq!(left(&defaults, "/t.S/Other", &mut timed).await, None);
        let only_slow = DefaultDeadline::none().method(&SLOW, Duration::from_secs(1));
        assert_eq!(
            left(&only_slow, "/t.S/Other", &mut MetadataMap::new()).await,
            None
        );
    }

    #[tokio::test]
    async fn the_server_maximum_only_shortens() {
        let max = MaxDeadline::new(Duration::from_secs(10));
        let mut metadata = MetadataMap::new();
        let mut extensions = tonic::Extensions::new();
        let soon = Instant::now() + Duration::from_secs(2);
        extensions.insert(crate::interceptor::Deadline(soon));
        let mut head = Head::new(Side::Server, None, "/t.S/M", &mut metadata, &mut extensions);
        max.head(&mut head).await.unwrap();
        assert_eq!(head.deadline(), Some(soon));
        let unset = left(&max, "/t.S/M", &mut MetadataMap::new()).await.unwrap();
        assert!(unset > Duration::from_secs(9) && unset <= Duration::from_secs(10));
    }
}
