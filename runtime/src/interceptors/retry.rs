use std::hash::{BuildHasher, Hasher, RandomState};
use std::time::Duration;

use tonic::{Code, Status};

use crate::interceptor::{Call, CallInterceptor, Deadline, InterceptFuture, Next};
use crate::{Idempotency, MethodInfo};

/// The request metadata that tells the server how many attempts of a call came before this
/// one (gRPC's retry design, A6); absent on a first attempt.
const PREVIOUS_ATTEMPTS: &str = "grpc-previous-rpc-attempts";
/// The trailer in which a server asks for a given wait before the next attempt, or (negative or
/// malformed) for none.
const PUSHBACK: &str = "grpc-retry-pushback-ms";

/// How many attempts a call took, left in its [`CallContext`](crate::interceptor::CallContext)
/// extensions by [`Retry`]: `context.extensions().get::<Attempts>()`, e.g. in an
/// [`on_end`](CallInterceptor::on_end) hook or a [`Timing`](super::Timing) report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Attempts(pub u32);

/// Client call interceptor that sends a failed call again, when that is safe:
///
/// - the method is one the proto marks `idempotency_level = NO_SIDE_EFFECTS` or `IDEMPOTENT`
///   (plus those named with [`also_methods`](Self::also_methods));
/// - its request is one message (unary and server-streaming calls): a streamed request is
///   never sent twice;
/// - the attempt failed with a retried code (`UNAVAILABLE` by default, see
///   [`codes`](Self::codes));
/// - **no response message has arrived**: a server stream that has begun is never replayed
///   (its failure reaches the caller through the stream, as usual);
/// - attempts are left ([`max_attempts`](Self::max_attempts), 3 by default, the first one
///   included), the server did not refuse it with a negative or malformed
///   `grpc-retry-pushback-ms` trailer, and the call's deadline leaves time for the wait.
///
/// Between attempts it waits a jittered, exponentially growing backoff: by default a random
/// time of up to 50 ms, then up to 100 ms, 200 ms… never more than 1 s ([`backoff`](Self::backoff),
/// [`multiplier`](Self::multiplier), [`jitter`](Self::jitter)), or exactly the time a server's
/// `grpc-retry-pushback-ms` asks for. Every attempt after the first carries
/// `grpc-previous-rpc-attempts: <attempts so far>`, and the call's context keeps the number of
/// attempts as [`Attempts`]. The call's deadline bounds all attempts together; each one tells
/// the server the time then left.
///
/// Place it innermost among the call interceptors, so that those outside it (timing, logging)
/// see one call and its final status, not each attempt.
///
/// ```
/// use std::time::Duration;
/// use greeter_runtime::interceptors::{Retry, Timing};
/// use greeter_runtime::{Idempotency, Interceptors, MethodInfo, StreamingKind};
///
/// const LOOKUP: MethodInfo = MethodInfo::new(
///     "shop.v1.Catalog", "Lookup", "/shop.v1.Catalog/Lookup",
///     StreamingKind::Unary, Idempotency::NoSideEffects,
/// );
/// const RESERVE: MethodInfo = MethodInfo::new(
///     "shop.v1.Catalog", "Reserve", "/shop.v1.Catalog/Reserve",
///     StreamingKind::Unary, Idempotency::Unknown,
/// );
///
/// let retry = Retry::new()
///     .max_attempts(4)
///     .codes([tonic::Code::Unavailable, tonic::Code::ResourceExhausted])
///     .backoff(Duration::from_millis(20), Duration::from_millis(500))
///     // `Reserve` declares no idempotency level; this client knows it is safe to resend.
///     .also_methods(&[RESERVE]);
/// let chain = Interceptors::new().with_call(Timing::new()).with_call(retry);
/// assert_eq!(chain.call_len(), 2);
/// # let _ = LOOKUP;
/// ```
#[derive(Debug, Clone)]
pub struct Retry {
    max_attempts: u32,
    codes: Vec<Code>,
    initial_backoff: Duration,
    max_backoff: Duration,
    multiplier: f64,
    jitter: f64,
    /// Paths of methods retried whatever their idempotency level.
    also: Vec<&'static str>,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            codes: vec![Code::Unavailable],
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
            multiplier: 2.0,
            jitter: 1.0,
            also: Vec::new(),
        }
    }
}

impl Retry {
    /// Up to 3 attempts of calls to idempotent methods that fail `UNAVAILABLE`, the waits
    /// between them drawn at random below 50 ms, 100 ms, … 1 s.
    pub fn new() -> Self {
        Self::default()
    }

    /// At most `attempts` attempts per call, the first one included (at least 1: 1 never
    /// retries).
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Retries attempts that fail with one of `codes` (replacing the default, `UNAVAILABLE`).
    #[must_use]
    pub fn codes(mut self, codes: impl IntoIterator<Item = Code>) -> Self {
        self.codes = codes.into_iter().collect();
        self
    }

    /// The first wait is at most `initial`; each next one at most [`multiplier`](Self::multiplier)
    /// times longer, and none longer than `max`.
    #[must_use]
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// How much longer each wait may be than the one before (2 by default). Below 1, or not a
    /// number, counts as 1: waits that do not grow.
    #[must_use]
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = if multiplier >= 1.0 { multiplier } else { 1.0 };
        self
    }

    /// The share of each wait drawn at random, from 0 to 1: a wait whose backoff is `b` lasts
    /// between `b × (1 − jitter)` and `b`. 1 (the default, as gRPC's retry design has it)
    /// spreads clients' retries the most; 0 makes every wait exactly its backoff.
    #[must_use]
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = if jitter.is_nan() {
            1.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        self
    }

    /// Also retries calls of `methods` (the generated `…_methods` constants), whatever the
    /// proto says of their idempotency: for methods that are safe to resend but do not declare
    /// it. Methods with a streamed request are still never retried.
    #[must_use]
    pub fn also_methods(mut self, methods: &[MethodInfo]) -> Self {
        self.also.extend(methods.iter().map(MethodInfo::path));
        self
    }

    /// Whether calls of `method` may be sent again at all.
    fn covers(&self, method: &MethodInfo) -> bool {
        matches!(
            method.idempotency(),
            Idempotency::NoSideEffects | Idempotency::Idempotent
        ) || self.also.contains(&method.path())
    }

    /// The longest wait before the retry `step` of a run of backoffs (0 for the first):
    /// `initial × multiplier^step`, at most the maximum.
    fn ceiling(&self, step: u32) -> Duration {
        if self.initial_backoff.is_zero() {
            return Duration::ZERO;
        }
        let growth = self
            .multiplier
            .powi(i32::try_from(step).unwrap_or(i32::MAX));
        // Past what a `Duration` holds (or infinite), the maximum applies anyway.
        Duration::try_from_secs_f64(self.initial_backoff.as_secs_f64() * growth)
            .map_or(self.max_backoff, |backoff| backoff.min(self.max_backoff))
    }

    /// The wait before retry `step`, with `random` (in `[0, 1)`) drawing its jitter.
    fn wait(&self, step: u32, random: f64) -> Duration {
        self.ceiling(step)
            .mul_f64(1.0 - self.jitter * random.clamp(0.0, 1.0))
    }

    /// Whether, and after what wait, to try again after an attempt failed with `status`.
    fn decide(&self, failed: &Failed<'_>, random: f64) -> Decision {
        if !self.codes.contains(&failed.status.code()) {
            return Decision::Stop("its code is not retried");
        }
        if failed.received > 0 {
            return Decision::Stop("a response message had arrived");
        }
        if failed.attempts >= self.max_attempts {
            return Decision::Stop("no attempts are left");
        }
        let (wait, pushback) = match pushback(failed.status) {
            Pushback::Absent => (self.wait(failed.step, random), false),
            Pushback::Wait(wait) => (wait, true),
            Pushback::Refused => {
                return Decision::Stop("the server's grpc-retry-pushback-ms refuses a retry");
            }
        };
        if failed.time_left.is_some_and(|left| left <= wait) {
            return Decision::Stop("the deadline leaves no time to wait for another attempt");
        }
        Decision::Retry { wait, pushback }
    }

    /// Runs attempts of a call whose request is retained, until one succeeds or the policy
    /// stops.
    async fn attempt(&self, call: &mut Call<'_>, next: Next<'_>) -> Result<(), Status> {
        let deadline = call
            .extensions_mut()
            .and_then(|extensions| extensions.get::<Deadline>().copied());
        let mut attempts = 1;
        // Retries since the backoff last started over (a server's pushback restarts it).
        let mut step = 0;
        loop {
            let result = next.run(call).await;
            call.context().extensions().insert(Attempts(attempts));
            let Err(status) = &result else {
                return result;
            };
            let failed = Failed {
                status,
                attempts,
                step,
                received: call.context().messages_received(),
                time_left: deadline.map(|deadline| deadline.remaining()),
            };
            let method = call.method();
            let (wait, pushback) = match self.decide(&failed, unit_random()) {
                Decision::Retry { wait, pushback } => (wait, pushback),
                Decision::Stop(reason) => {
                    if attempts > 1 || self.codes.contains(&status.code()) {
                        tracing::debug!(
                            grpc.service = method.service(),
                            grpc.method = method.method(),
                            grpc.code = ?status.code(),
                            attempts,
                            reason,
                            "not retrying"
                        );
                    }
                    return result;
                }
            };
            tracing::debug!(
                grpc.service = method.service(),
                grpc.method = method.method(),
                grpc.code = ?status.code(),
                attempts,
                ?wait,
                pushback,
                "retrying"
            );
            tokio::time::sleep(wait).await;
            step = if pushback { 0 } else { step + 1 };
            if let Some(metadata) = call.metadata_mut() {
                metadata.insert(PREVIOUS_ATTEMPTS, attempts.into());
            }
            attempts += 1;
        }
    }
}

impl CallInterceptor for Retry {
    fn call<'a>(&'a self, call: &'a mut Call<'_>, next: Next<'a>) -> InterceptFuture<'a> {
        // `retain_request` comes last: it copies the request on every attempt once asked.
        if self.max_attempts > 1 && self.covers(call.method()) && call.retain_request() {
            Box::pin(self.attempt(call, next))
        } else {
            Box::pin(async move {
                let result = next.run(call).await;
                call.context().extensions().insert(Attempts(1));
                result
            })
        }
    }
}

/// What the policy weighs after a failed attempt.
#[derive(Debug)]
struct Failed<'s> {
    status: &'s Status,
    /// Attempts so far, the failed one included.
    attempts: u32,
    /// Retries since the backoff last started over.
    step: u32,
    /// Response messages received so far, over all attempts.
    received: u64,
    /// The time left before the call's deadline, if it has one.
    time_left: Option<Duration>,
}

/// What to do after a failed attempt.
#[derive(Debug, PartialEq)]
enum Decision {
    /// Try again after `wait`; `pushback` when the server chose the wait.
    Retry { wait: Duration, pushback: bool },
    /// Give up, for this reason.
    Stop(&'static str),
}

/// What a failed attempt's `grpc-retry-pushback-ms` asks for.
#[derive(Debug, PartialEq)]
enum Pushback {
    Absent,
    Wait(Duration),
    Refused,
}

/// Reads the server's pushback: a wait in milliseconds, or (negative, malformed) no retry.
fn pushback(status: &Status) -> Pushback {
    let Some(value) = status.metadata().get(PUSHBACK) else {
        return Pushback::Absent;
    };
    match value
        .to_str()
        .ok()
        .and_then(|text| text.parse::<u64>().ok())
    {
        Some(millis) => Pushback::Wait(Duration::from_millis(millis)),
        None => Pushback::Refused,
    }
}

/// A random number in `[0, 1)`. A fresh `RandomState` is keyed anew each time (the standard
/// library seeds it from the OS once per thread, then steps it), which is all jitter needs.
fn unit_random() -> f64 {
    let bits = RandomState::new().build_hasher().finish();
    // The top 53 bits, the precision of an f64.
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Arc;
    use std::time::Instant;

    use tonic::metadata::MetadataMap;
    use tonic::{Request, Response};

    use super::*;
    use crate::StreamingKind;
    use crate::interceptor::{
        AnyMessage, CallContext, Exchange, PayloadAccess, Payloads, Side, replay,
    };

    const fn method(name: &'static str, idempotency: Idempotency) -> MethodInfo {
        MethodInfo::new("t.S", name, name, StreamingKind::Unary, idempotency)
    }

    static UNKNOWN: MethodInfo = method("/t.S/Unknown", Idempotency::Unknown);
    static READ: MethodInfo = method("/t.S/Read", Idempotency::NoSideEffects);
    static PUT: MethodInfo = method("/t.S/Put", Idempotency::Idempotent);

    fn failed(status: &Status, attempts: u32) -> Failed<'_> {
        Failed {
            status,
            attempts,
            step: attempts - 1,
            received: 0,
            time_left: None,
        }
    }

    #[test]
    fn the_default_follows_the_idempotency_level_and_named_methods_join_it() {
        let retry = Retry::new();
        assert!(!retry.covers(&UNKNOWN));
        assert!(retry.covers(&READ));
        assert!(retry.covers(&PUT));
        assert!(Retry::new().also_methods(&[UNKNOWN]).covers(&UNKNOWN));
        assert!(
            !Retry::new()
                .also_methods(&[READ])
                .covers(&method("/t.S/Other", Idempotency::Unknown))
        );
    }

    #[test]
    fn backoff_grows_to_its_maximum_and_jitter_stays_within_it() {
        let retry = Retry::new().jitter(0.0);
        let waits: Vec<_> = (0..7).map(|step| retry.wait(step, 0.5)).collect();
        let millis = [50, 100, 200, 400, 800, 1000, 1000].map(Duration::from_millis);
        assert_eq!(waits, millis);
        assert_eq!(retry.ceiling(u32::MAX), Duration::from_secs(1));
        let huge = Retry::new().multiplier(f64::INFINITY);
        assert_eq!(huge.ceiling(3), Duration::from_secs(1));
        assert_eq!(Retry::new().multiplier(f64::NAN).ceiling(5), millis[0]);
        let none = Retry::new().backoff(Duration::ZERO, Duration::from_secs(1));
        assert_eq!(none.ceiling(40), Duration::ZERO);

        // Full jitter (the default): anywhere from nothing to the backoff.
        let full = Retry::new();
        assert_eq!(full.wait(1, 0.0), Duration::from_millis(100));
        assert!(full.wait(1, 0.999_999) < Duration::from_micros(1));
        // 20 %: within the top fifth.
        let fifth = Retry::new().jitter(0.2);
        for step in 0..8 {
            for _ in 0..50 {
                let wait = fifth.wait(step, unit_random());
                let ceiling = fifth.ceiling(step);
                assert!(
                    wait <= ceiling && wait >= ceiling.mul_f64(0.8),
                    "{wait:?} {ceiling:?}"
                );
            }
        }
        assert_eq!(Retry::new().jitter(7.0).jitter, 1.0);
        assert_eq!(Retry::new().jitter(-1.0).jitter, 0.0);
    }

    #[test]
    fn random_numbers_are_in_the_unit_interval_and_vary() {
        let draws: Vec<f64> = (0..1000).map(|_| unit_random()).collect();
        assert!(draws.iter().all(|x| (0.0..1.0).contains(x)));
        let low = draws.iter().filter(|x| **x < 0.5).count();
        // A fair coin lands 500 ± 100 times out of 1000 but once in ~10^10 runs.
        assert!((400..=600).contains(&low), "{low} of 1000 below 0.5");
    }

    #[test]
    fn the_policy_weighs_code_messages_attempts_pushback_and_deadline() {
        let retry = Retry::new().jitter(0.0);
        let unavailable = Status::unavailable("down");
        assert_eq!(
            retry.decide(&failed(&unavailable, 1), 0.0),
            Decision::Retry {
                wait: Duration::from_millis(50),
                pushback: false
            }
        );
        assert_eq!(
            retry.decide(&failed(&unavailable, 2), 0.0),
            Decision::Retry {
                wait: Duration::from_millis(100),
                pushback: false
            }
        );
        let stop = |decision| match decision {
            Decision::Stop(reason) => reason,
            retry => panic!("retried: {retry:?}"),
        };
        assert_eq!(
            stop(retry.decide(&failed(&unavailable, 3), 0.0)),
            "no attempts are left"
        );
        let invalid = Status::invalid_argument("no");
        assert_eq!(
            stop(retry.decide(&failed(&invalid, 1), 0.0)),
            "its code is not retried"
        );
        let wider = retry.clone().codes([Code::InvalidArgument]);
        assert!(matches!(
            wider.decide(&failed(&invalid, 1), 0.0),
            Decision::Retry { .. }
        ));
        assert!(matches!(
            wider.decide(&failed(&unavailable, 1), 0.0),
            Decision::Stop(_)
        ));
        let streamed = Failed {
            received: 1,
            ..failed(&unavailable, 1)
        };
        assert_eq!(
            stop(retry.decide(&streamed, 0.0)),
            "a response message had arrived"
        );
        let hurried = Failed {
            time_left: Some(Duration::from_millis(50)),
            ..failed(&unavailable, 1)
        };
        assert!(stop(retry.decide(&hurried, 0.0)).contains("deadline"));
        let roomy = Failed {
            time_left: Some(Duration::from_millis(51)),
            ..failed(&unavailable, 1)
        };
        assert!(matches!(retry.decide(&roomy, 0.0), Decision::Retry { .. }));

        let pushed = |value: &str| {
            let mut metadata = MetadataMap::new();
            metadata.insert(PUSHBACK, value.parse().unwrap());
            Status::with_metadata(Code::Unavailable, "busy", metadata)
        };
        assert_eq!(
            retry.decide(&failed(&pushed("700"), 2), 0.0),
            Decision::Retry {
                wait: Duration::from_millis(700),
                pushback: true
            }
        );
        for refusal in ["-1", "soon", "1.5", ""] {
            assert!(
                stop(retry.decide(&failed(&pushed(refusal), 1), 0.0)).contains("pushback"),
                "{refusal:?}"
            );
        }
    }

    /// One scripted attempt: its outcome, and whether a response message arrived first.
    type Outcome = (Result<(), Status>, bool);

    /// The end of a call chain that plays scripted attempts and records each request's
    /// `grpc-previous-rpc-attempts`.
    struct Scripted {
        payloads: Payloads<u32, u32>,
        context: Arc<CallContext>,
        outcomes: VecDeque<Outcome>,
        previous: Vec<Option<String>>,
    }

    impl Exchange for Scripted {
        fn payloads(&mut self) -> &mut dyn PayloadAccess {
            &mut self.payloads
        }

        fn invoke(&mut self) -> InterceptFuture<'_> {
            Box::pin(async move {
                let request = self.payloads.take_request()?;
                let previous = request.metadata().get(PREVIOUS_ATTEMPTS);
                self.previous
                    .push(previous.map(|value| value.to_str().unwrap().to_owned()));
                let (outcome, received) = self.outcomes.pop_front().unwrap_or((Ok(()), false));
                if received {
                    self.context.count_received();
                }
                if outcome.is_ok() {
                    self.payloads.response = Some(Response::new(*request.get_ref()));
                }
                outcome
            })
        }
    }

    fn no_message<'x, X>(_: &'x mut X, _: &'static str) -> Option<AnyMessage<'x>> {
        None
    }

    /// What a scripted call through `retry` came to.
    struct Played {
        result: Result<(), Status>,
        /// Each attempt's `grpc-previous-rpc-attempts`.
        previous: Vec<Option<String>>,
        attempts: Option<Attempts>,
    }

    async fn play(
        retry: Retry,
        method: &'static MethodInfo,
        outcomes: impl IntoIterator<Item = Outcome>,
        replayable: bool,
        deadline: Option<Instant>,
    ) -> Played {
        let context = Arc::new(CallContext::new(Side::Client, method));
        let mut request = Request::new(7u32);
        if let Some(at) = deadline {
            request.extensions_mut().insert(Deadline(at));
        }
        let mut payloads = Payloads::new(method, request, no_message, no_message);
        if replayable {
            payloads = payloads.replayable(replay::<u32>);
        }
        let mut exchange = Scripted {
            payloads,
            context: Arc::clone(&context),
            outcomes: outcomes.into_iter().collect(),
            previous: Vec::new(),
        };
        let chain: Arc<[Arc<dyn CallInterceptor>]> = Arc::new([Arc::new(retry) as _]);
        let result = Next::new(&chain)
            .run(&mut Call::new(&context, &mut exchange))
            .await;
        let attempts = context.extensions().get::<Attempts>().copied();
        Played {
            result,
            previous: exchange.previous,
            attempts,
        }
    }

    fn quick() -> Retry {
        Retry::new().backoff(Duration::from_millis(1), Duration::from_millis(2))
    }

    fn down() -> Outcome {
        (Err(Status::unavailable("down")), false)
    }

    #[tokio::test]
    async fn retries_until_success_telling_the_server_the_attempts_before() {
        let played = play(quick(), &READ, [down(), down()], true, None).await;
        assert!(played.result.is_ok());
        assert_eq!(
            played.previous,
            [None, Some("1".to_owned()), Some("2".to_owned())]
        );
        assert_eq!(played.attempts, Some(Attempts(3)));
    }

    #[tokio::test]
    async fn gives_up_after_the_last_attempt_with_its_status() {
        let outcomes = [down(), down(), (Err(Status::unavailable("third")), false)];
        let played = play(quick(), &PUT, outcomes, true, None).await;
        assert_eq!(played.result.unwrap_err().message(), "third");
        assert_eq!(played.previous.len(), 3);
        assert_eq!(played.attempts, Some(Attempts(3)));
        let once = play(quick().max_attempts(0), &PUT, [down()], true, None).await;
        assert_eq!(once.previous.len(), 1);
    }

    #[tokio::test]
    async fn sends_once_what_is_unsafe_to_send_again() {
        let cases = [
            // The method may have side effects.
            (&UNKNOWN, [down()], true),
            // The request is a stream.
            (&READ, [down()], false),
            // A response message arrived before the failure.
            (&READ, [(Err(Status::unavailable("cut")), true)], true),
            // The code is not retried.
            (&READ, [(Err(Status::invalid_argument("bad")), false)], true),
        ];
        for (method, outcomes, replayable) in cases {
            let played = play(quick(), method, outcomes, replayable, None).await;
            assert!(played.result.is_err());
            assert_eq!(played.previous, [None], "{method} {replayable}");
            assert_eq!(played.attempts, Some(Attempts(1)));
        }
    }

    #[tokio::test]
    async fn the_deadline_bounds_the_waits() {
        let slow = Retry::new()
            .backoff(Duration::from_secs(5), Duration::from_secs(5))
            .jitter(0.0);
        let started = Instant::now();
        let deadline = Some(started + Duration::from_millis(500));
        let played = play(slow, &READ, [down()], true, deadline).await;
        assert_eq!(played.result.unwrap_err().code(), Code::Unavailable);
        assert_eq!(played.previous.len(), 1);
        assert!(started.elapsed() < Duration::from_millis(500));
    }
}
