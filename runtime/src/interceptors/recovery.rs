use std::any::Any;
use std::backtrace::Backtrace;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::task::{Context, Poll};

use tonic::Status;

use crate::MethodInfo;

/// Recovers from panics on a server: a panic in a handler, a response stream, or any
/// interceptor answers the call `INTERNAL` (message `internal error`, never the panic's text),
/// logs the panic's message, location and backtrace with `tracing` at ERROR, and leaves the
/// connection and the server serving. Install it with
/// [`Interceptors::with_recovery`](crate::Interceptors::with_recovery): it always wraps the whole
/// call, outside every interceptor, so call interceptors see such a call end `INTERNAL`.
///
/// The backtrace is the panicking thread's, taken by a panic hook this type installs once per
/// process. The hook only acts inside a recovered call; any other panic goes to the hook that
/// was installed before.
///
/// ```
/// use greeter_runtime::Interceptors;
/// use greeter_runtime::interceptors::Recovery;
///
/// let chain = Interceptors::new().with_recovery(Recovery::new());
/// assert!(!chain.is_empty());
/// ```
#[derive(Debug, Default)]
pub struct Recovery {
    recovered: AtomicU64,
}

impl Recovery {
    /// Recovers panics; installs the panic hook that records their backtraces.
    pub fn new() -> Self {
        install_hook();
        Self::default()
    }

    /// How many panics this recovery has turned into `INTERNAL` so far.
    pub fn recovered(&self) -> u64 {
        self.recovered.load(Ordering::Relaxed)
    }

    /// Runs `f`, turning a panic in it into the status that answers the call.
    pub(crate) fn catch<R>(&self, method: &MethodInfo, f: impl FnOnce() -> R) -> Result<R, Status> {
        let outer = GUARDED.replace(true);
        let result = catch_unwind(AssertUnwindSafe(f));
        GUARDED.set(outer);
        result.map_err(|payload| self.recover(method, payload))
    }

    /// Logs a caught panic and counts it; the status to answer with.
    fn recover(&self, method: &MethodInfo, payload: Box<dyn Any + Send>) -> Status {
        self.recovered.fetch_add(1, Ordering::Relaxed);
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(a panic payload that is not a string)");
        let caught = CAUGHT.take();
        let location = caught
            .as_ref()
            .map_or("", |caught| caught.location.as_str());
        tracing::error!(
            grpc.service = method.service(),
            grpc.method = method.method(),
            panic.message = message,
            panic.location = location,
            backtrace = %caught.as_ref().map_or_else(
                || "(not captured: the panic hook was replaced)".to_owned(),
                |caught| caught.backtrace.to_string(),
            ),
            "a call panicked; answered INTERNAL"
        );
        Status::internal("internal error")
    }
}

/// What the panic hook recorded of the last panic inside a recovered call on this thread.
struct Caught {
    location: String,
    backtrace: Backtrace,
}

thread_local! {
    /// Whether this thread is running recovered code now.
    static GUARDED: Cell<bool> = const { Cell::new(false) };
    static CAUGHT: RefCell<Option<Caught>> = const { RefCell::new(None) };
}

/// Installs, once, a panic hook that records the location and backtrace of a panic inside a
/// recovered call (and prints nothing: the recovery logs it) and hands any other panic to the
/// hook installed before.
fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if GUARDED.get() {
                CAUGHT.set(Some(Caught {
                    location: info.location().map(ToString::to_string).unwrap_or_default(),
                    backtrace: Backtrace::force_capture(),
                }));
            } else {
                previous(info);
            }
        }));
    });
}

pin_project_lite::pin_project! {
    /// A future whose panics become `Err(INTERNAL)` when a recovery is given; after a panic it
    /// is not polled again.
    pub(crate) struct Recovering<F> {
        #[pin]
        inner: F,
        recovery: Option<Arc<Recovery>>,
        method: &'static MethodInfo,
        panicked: bool,
    }
}

impl<F> Recovering<F> {
    pub(crate) fn new(
        inner: F,
        recovery: Option<Arc<Recovery>>,
        method: &'static MethodInfo,
    ) -> Self {
        Self {
            inner,
            recovery,
            method,
            panicked: false,
        }
    }
}

impl<F: Future> Future for Recovering<F> {
    type Output = Result<F::Output, Status>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if *this.panicked {
            return Poll::Ready(Err(Status::internal("internal error")));
        }
        let Some(recovery) = this.recovery.as_ref() else {
            return this.inner.poll(cx).map(Ok);
        };
        let inner = this.inner;
        match recovery.catch(this.method, || inner.poll(cx)) {
            Ok(poll) => poll.map(Ok),
            Err(status) => {
                *this.panicked = true;
                Poll::Ready(Err(status))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Idempotency, StreamingKind};

    static METHOD: MethodInfo = MethodInfo::new(
        "t.S",
        "M",
        "/t.S/M",
        StreamingKind::Unary,
        Idempotency::Unknown,
    );

    #[tokio::test]
    async fn a_panicking_future_becomes_internal_without_its_text() {
        let recovery = Arc::new(Recovery::new());
        let future = Recovering::new(
            async { panic!("secret detail {}", 42) },
            Some(Arc::clone(&recovery)),
            &METHOD,
        );
        let status: Status = future.await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::Internal);
        assert_eq!(status.message(), "internal error");
        assert_eq!(recovery.recovered(), 1);
        let fine = Recovering::new(async { 7 }, Some(Arc::clone(&recovery)), &METHOD);
        assert_eq!(fine.await.unwrap(), 7);
        assert_eq!(recovery.recovered(), 1);
    }
}
