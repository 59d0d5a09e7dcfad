use std::sync::Arc;
use std::time::Duration;

use tonic::Status;

use crate::interceptor::{CallContext, CallInterceptor};

/// What a [`Timing`] hands each finished call to.
type Report = dyn Fn(&CallContext, &Status, Duration) + Send + Sync;

/// Call interceptor that measures every call from its start to its end and reports it once,
/// with its final status: a `tracing` event at DEBUG (`grpc.service`, `grpc.method`,
/// `grpc.code`, `elapsed`), and, if given, a function of yours.
///
/// A call starts when it is handed to the generated client (client) or when its request head
/// arrives (server), and ends with its final status: for a response stream, when the stream
/// ends or is dropped. On a client, placed outside [`Retry`](super::Retry), the time covers
/// every attempt and the waits between them.
///
/// ```
/// use greeter_runtime::Interceptors;
/// use greeter_runtime::interceptors::Timing;
///
/// let chain = Interceptors::new().with_call(Timing::with(|context, status, elapsed| {
///     eprintln!("{} ended {:?} after {elapsed:?}", context.method(), status.code());
/// }));
/// assert_eq!(chain.call_len(), 1);
/// ```
#[derive(Clone, Default)]
pub struct Timing {
    report: Option<Arc<Report>>,
}

impl Timing {
    /// Reports every call as a `tracing` event only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reports every call as a `tracing` event and to `report`, with the call's context, its
    /// final status and its duration. `report` runs once per call, on the task that ends the
    /// call: keep it short.
    pub fn with(report: impl Fn(&CallContext, &Status, Duration) + Send + Sync + 'static) -> Self {
        Self {
            report: Some(Arc::new(report)),
        }
    }
}

impl std::fmt::Debug for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timing")
            .field("report", &self.report.is_some())
            .finish()
    }
}

impl CallInterceptor for Timing {
    fn wraps_call(&self) -> bool {
        false
    }

    fn on_end(&self, context: &CallContext, status: &Status) {
        let elapsed = context.elapsed();
        let method = context.method();
        tracing::debug!(
            grpc.service = method.service(),
            grpc.method = method.method(),
            grpc.code = ?status.code(),
            side = ?context.side(),
            ?elapsed,
            "call ended"
        );
        if let Some(report) = &self.report {
            report(context, status, elapsed);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Instant;

    use super::*;
    use crate::interceptor::Side;
    use crate::{Idempotency, MethodInfo, StreamingKind};

    static METHOD: MethodInfo = MethodInfo::new(
        "t.S",
        "M",
        "/t.S/M",
        StreamingKind::Unary,
        Idempotency::Unknown,
    );

    #[test]
    fn reports_the_status_and_the_time_since_the_call_started() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let timing = Timing::with(move |context, status, elapsed| {
            sink.lock()
                .unwrap()
                .push((context.method().path(), status.code(), elapsed));
        });
        let context = CallContext::new(Side::Client, &METHOD);
        std::thread::sleep(Duration::from_millis(20));
        let before_end = Instant::now();
        timing.on_end(&context, &Status::unavailable("down"));
        let bound = before_end.duration_since(context.started()) + before_end.elapsed();
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let (path, code, elapsed) = seen[0];
        assert_eq!((path, code), ("/t.S/M", tonic::Code::Unavailable));
        assert!(
            elapsed >= Duration::from_millis(20) && elapsed <= bound,
            "{elapsed:?}"
        );
        // Without a report it only logs.
        Timing::new().on_end(&context, &Status::ok(""));
        assert_eq!(format!("{:?}", Timing::new()), "Timing { report: false }");
    }
}
