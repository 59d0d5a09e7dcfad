//! The standard client interceptors through the golden Greeter and the stress set's Everything
//! service: retry (attempts counted by the server, `grpc-previous-rpc-attempts`, the
//! idempotency gate, codes, server pushback, the deadline, streams never replayed), bearer
//! credentials that never leave over plaintext unless allowed, and timing in all four modes.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greeter_runtime::interceptor::{AnyMessage, CallContext, CallInterceptor, Head};
use greeter_runtime::interceptors::{Attempts, BearerToken, Retry, Timing};
use greeter_runtime::{HeadInterceptor, Interceptors, StreamingKind};
use greeter_tests::greeter::HelloRequest;
use greeter_tests::greeter::greeter_client::GreeterClient;
use greeter_tests::greeter::greeter_methods::{
    BIDI_HELLO, LOTS_OF_GREETINGS, LOTS_OF_REPLIES, SAY_HELLO,
};
use greeter_tests::greeter::greeter_server::GreeterServer;
use greeter_tests::net;
use greeter_tests::scripted::{self, Scripted};
use greeter_tests::stress_set::stress::api::v1::everything_client::EverythingClient;
use greeter_tests::stress_set::stress::api::v1::everything_server::{Everything, EverythingServer};
use greeter_tests::stress_set::stress::api::v1::{Item, everything_methods};
use greeter_tests::stress_set::stress::common::v1::{HttpRequest, Page};
use greeter_tests::stress_set::stress::r#type::Kind;
use tokio_stream::Stream;
use tonic::metadata::MetadataMap;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity, Server};
use tonic::{Code, Request, Response, Status, Streaming};

const MODES: [StreamingKind; 4] = [
    StreamingKind::Unary,
    StreamingKind::ServerStreaming,
    StreamingKind::ClientStreaming,
    StreamingKind::BidiStreaming,
];

/// What the server saw of one call on its head: the path and three request metadata values.
#[derive(Debug, Clone, PartialEq)]
struct Arrival {
    path: String,
    previous_attempts: Option<String>,
    authorization: Option<String>,
    /// The call's `grpc-timeout`.
    timeout: Option<Duration>,
}

type Arrivals = Arc<Mutex<Vec<Arrival>>>;

/// A server head interceptor that records every call and fails the first `failures` of them
/// with `failure`, before any handler runs.
fn failing_door(failures: usize, failure: Status) -> (impl HeadInterceptor, Arrivals) {
    let arrivals = Arrivals::default();
    let seen = Arc::clone(&arrivals);
    let door = move |head: &mut Head<'_>| {
        let text = |key: &str| {
            let value = head.metadata().get(key)?;
            value.to_str().ok().map(str::to_owned)
        };
        let arrival = Arrival {
            path: head.path().to_owned(),
            previous_attempts: text("grpc-previous-rpc-attempts"),
            authorization: text("authorization"),
            timeout: head.timeout().ok().flatten(),
        };
        let mut arrivals = seen.lock().unwrap();
        arrivals.push(arrival);
        match arrivals.len() <= failures {
            true => Err(failure.clone()),
            false => Ok(()),
        }
    };
    (door, arrivals)
}

/// A door that lets every call through.
fn open_door() -> (impl HeadInterceptor, Arrivals) {
    failing_door(0, Status::ok(""))
}

/// Fails every response stream at its second message, with UNAVAILABLE.
struct CutAfterOne;

impl CallInterceptor for CutAfterOne {
    fn on_send(&self, context: &CallContext, _: &mut AnyMessage<'_>) -> Result<(), Status> {
        match context.messages_sent() {
            0 => Ok(()),
            _ => Err(Status::unavailable("cut after one message")),
        }
    }
}

/// Serves the scripted Greeter behind `chain`.
async fn serve_greeter(chain: Interceptors) -> SocketAddr {
    let server = GreeterServer::new(Scripted::default()).with_interceptors(chain);
    net::serve(Server::builder().add_service(server)).await
}

async fn client(addr: SocketAddr, chain: Interceptors) -> GreeterClient<Channel> {
    GreeterClient::new(net::channel(addr).await).with_interceptors(chain)
}

fn hello(name: &str) -> HelloRequest {
    HelloRequest { name: name.into() }
}

/// One call of `name` in `mode` (streamed requests: one message; [`scripted::call`]).
async fn call(
    client: &mut GreeterClient<Channel>,
    mode: StreamingKind,
    name: &str,
) -> (Vec<String>, Result<(), Status>) {
    scripted::call(client, mode, &[name], &MetadataMap::new()).await
}

/// A retry that waits little, so tests run fast.
fn quick_retry() -> Retry {
    Retry::new().backoff(Duration::from_millis(1), Duration::from_millis(5))
}

fn previous_attempts(arrivals: &Arrivals) -> Vec<Option<String>> {
    let arrivals = arrivals.lock().unwrap();
    arrivals
        .iter()
        .map(|a| a.previous_attempts.clone())
        .collect()
}

fn numbered(attempts: usize) -> Vec<Option<String>> {
    (0..attempts)
        .map(|n| (n > 0).then(|| n.to_string()))
        .collect()
}

#[tokio::test]
async fn a_retryable_call_succeeds_after_the_failures_the_server_counted() {
    for failures in [1, 2] {
        let (door, arrivals) = failing_door(failures, Status::unavailable("warming up"));
        let addr = serve_greeter(Interceptors::new().with_head(door)).await;
        let retry = quick_retry().also_methods(&[SAY_HELLO]);
        let mut greeter = client(addr, Interceptors::new().with_call(retry)).await;
        let (replies, end) = call(&mut greeter, StreamingKind::Unary, "ann").await;
        assert_eq!((replies, end.is_ok()), (vec!["hello ann".to_owned()], true));
        assert_eq!(previous_attempts(&arrivals), numbered(failures + 1));
    }

    // A server stream whose first attempts fail before any message is sent again too.
    let (door, arrivals) = failing_door(2, Status::unavailable("warming up"));
    let addr = serve_greeter(Interceptors::new().with_head(door)).await;
    let retry = quick_retry().also_methods(&[LOTS_OF_REPLIES]);
    let mut greeter = client(addr, Interceptors::new().with_call(retry)).await;
    let (replies, end) = call(&mut greeter, StreamingKind::ServerStreaming, "cy").await;
    end.unwrap();
    assert_eq!(replies, ["hello cy"; 3]);
    assert_eq!(previous_attempts(&arrivals), numbered(3));
}

#[tokio::test]
async fn attempts_stop_at_the_maximum_with_the_last_status() {
    for (max, expected) in [(None, 3), (Some(4), 4), (Some(1), 1)] {
        let (door, arrivals) = failing_door(10, Status::unavailable("still down"));
        let addr = serve_greeter(Interceptors::new().with_head(door)).await;
        let mut retry = quick_retry().also_methods(&[SAY_HELLO]);
        if let Some(max) = max {
            retry = retry.max_attempts(max);
        }
        let mut greeter = client(addr, Interceptors::new().with_call(retry)).await;
        let (_, end) = call(&mut greeter, StreamingKind::Unary, "ann").await;
        let status = end.unwrap_err();
        assert_eq!(
            (status.code(), status.message()),
            (Code::Unavailable, "still down")
        );
        assert_eq!(previous_attempts(&arrivals), numbered(expected), "{max:?}");
    }
}

#[tokio::test]
#[allow(deprecated)] // `OldPing` is deprecated on purpose in the stress set.
async fn the_default_retries_only_what_the_proto_marks_idempotent() {
    // The Greeter declares no idempotency level: one attempt.
    let (door, arrivals) = failing_door(1, Status::unavailable("warming up"));
    let addr = serve_greeter(Interceptors::new().with_head(door)).await;
    let mut greeter = client(addr, Interceptors::new().with_call(quick_retry())).await;
    let (_, end) = call(&mut greeter, StreamingKind::Unary, "ann").await;
    assert_eq!(end.unwrap_err().code(), Code::Unavailable);
    assert_eq!(arrivals.lock().unwrap().len(), 1);

    // Everything's `Ping` is NO_SIDE_EFFECTS, `OldPing` declares nothing.
    let (door, arrivals) = failing_door(2, Status::unavailable("warming up"));
    let addr = serve_everything(door).await;
    let mut everything =
        EverythingClient::new(net::channel(addr).await).with_call_interceptor(quick_retry());
    let time = everything.ping(()).await.unwrap().into_inner();
    assert_eq!(time.seconds, 42);
    assert_eq!(previous_attempts(&arrivals), numbered(3));

    let (door, arrivals) = failing_door(1, Status::unavailable("warming up"));
    let addr = serve_everything(door).await;
    let mut everything =
        EverythingClient::new(net::channel(addr).await).with_call_interceptor(quick_retry());
    let status = everything.old_ping(()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    let paths: Vec<_> = arrivals
        .lock()
        .unwrap()
        .iter()
        .map(|a| a.path.clone())
        .collect();
    assert_eq!(paths, [everything_methods::OLD_PING.path()]);
}

#[tokio::test]
async fn only_the_configured_codes_are_retried() {
    let (door, arrivals) = failing_door(1, Status::invalid_argument("not yet"));
    let addr = serve_greeter(Interceptors::new().with_head(door)).await;
    let retry = quick_retry().also_methods(&[SAY_HELLO]);
    let mut greeter = client(addr, Interceptors::new().with_call(retry)).await;
    let (_, end) = call(&mut greeter, StreamingKind::Unary, "ann").await;
    assert_eq!(end.unwrap_err().code(), Code::InvalidArgument);
    assert_eq!(arrivals.lock().unwrap().len(), 1);

    let (door, arrivals) = failing_door(1, Status::invalid_argument("not yet"));
    let addr = serve_greeter(Interceptors::new().with_head(door)).await;
    let retry = quick_retry()
        .also_methods(&[SAY_HELLO])
        .codes([Code::InvalidArgument]);
    let mut greeter = client(addr, Interceptors::new().with_call(retry)).await;
    let (_, end) = call(&mut greeter, StreamingKind::Unary, "ann").await;
    end.unwrap();
    assert_eq!(previous_attempts(&arrivals), numbered(2));
}

#[tokio::test]
async fn the_server_pushback_and_the_deadline_bound_retries() {
    let pushback = |value: &str| {
        let mut metadata = MetadataMap::new();
        metadata.insert("grpc-retry-pushback-ms", value.parse().unwrap());
        Status::with_metadata(Code::Unavailable, "busy", metadata)
    };
    for (value, attempts) in [("-1", 1), ("later", 1), ("5", 2)] {
        let (door, arrivals) = failing_door(1, pushback(value));
        let addr = serve_greeter(Interceptors::new().with_head(door)).await;
        let retry = quick_retry().also_methods(&[SAY_HELLO]);
        let mut greeter = client(addr, Interceptors::new().with_call(retry)).await;
        let (_, end) = call(&mut greeter, StreamingKind::Unary, "ann").await;
        assert_eq!(end.is_ok(), attempts == 2, "{value}");
        assert_eq!(arrivals.lock().unwrap().len(), attempts, "{value}");
    }

    // A backoff longer than the time left: the last status now, not a wait for nothing.
    let (door, arrivals) = failing_door(1, Status::unavailable("warming up"));
    let addr = serve_greeter(Interceptors::new().with_head(door)).await;
    let slow = Retry::new()
        .also_methods(&[SAY_HELLO])
        .backoff(Duration::from_secs(5), Duration::from_secs(5))
        .jitter(0.0);
    let mut greeter = client(addr, Interceptors::new().with_call(slow)).await;
    let started = Instant::now();
    let mut request = Request::new(hello("ann"));
    request
        .metadata_mut()
        .insert("grpc-timeout", "2S".parse().unwrap());
    let status = greeter.say_hello(request).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(arrivals.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_started_stream_and_a_streamed_request_are_never_sent_again() {
    // The response stream fails after its first message (the items 20 ms apart, so that the
    // first one leaves before the second fails).
    let (door, arrivals) = open_door();
    let chain = Interceptors::new().with_head(door).with_call(CutAfterOne);
    let addr = serve_greeter(chain).await;
    let retry = quick_retry().also_methods(&[LOTS_OF_REPLIES]);
    let mut greeter = client(addr, Interceptors::new().with_call(retry)).await;
    let (replies, end) = call(&mut greeter, StreamingKind::ServerStreaming, "sleep:20").await;
    assert_eq!(replies, ["hello sleep:20"]);
    let status = end.unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::Unavailable, "cut after one message")
    );
    assert_eq!(arrivals.lock().unwrap().len(), 1);

    // Streamed requests, even when named retryable.
    for mode in [StreamingKind::ClientStreaming, StreamingKind::BidiStreaming] {
        let (door, arrivals) = failing_door(1, Status::unavailable("warming up"));
        let addr = serve_greeter(Interceptors::new().with_head(door)).await;
        let retry = quick_retry().also_methods(&[LOTS_OF_GREETINGS, BIDI_HELLO]);
        let mut greeter = client(addr, Interceptors::new().with_call(retry)).await;
        let (_, end) = call(&mut greeter, mode, "ann").await;
        assert_eq!(end.unwrap_err().code(), Code::Unavailable, "{mode}");
        assert_eq!(arrivals.lock().unwrap().len(), 1, "{mode}");
    }

    // Everything's `Upload` is IDEMPOTENT, but its request is a stream.
    let (door, arrivals) = failing_door(1, Status::unavailable("warming up"));
    let addr = serve_everything(door).await;
    let mut everything =
        EverythingClient::new(net::channel(addr).await).with_call_interceptor(quick_retry());
    let items = tokio_stream::iter([Item::default()]);
    let status = everything.upload(items).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(arrivals.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_bearer_token_never_leaves_over_plaintext_unless_allowed() {
    let (door, arrivals) = open_door();
    let addr = serve_greeter(Interceptors::new().with_head(door)).await;
    let origin: tonic::codegen::http::Uri = format!("http://{addr}").parse().unwrap();
    let token = BearerToken::new("s3cret").unwrap();
    let refused = [
        (
            GreeterClient::connect(origin.to_string()).await.unwrap(),
            "plaintext (http)",
        ),
        (
            GreeterClient::with_origin(net::channel(addr).await, origin.clone()),
            "plaintext (http)",
        ),
        (
            GreeterClient::new(net::channel(addr).await),
            "does not know whether its channel is TLS",
        ),
    ];
    for (greeter, why) in refused {
        let mut greeter = greeter.with_head_interceptor(token.clone());
        for mode in MODES {
            let (_, end) = call(&mut greeter, mode, "ann").await;
            let status = end.unwrap_err();
            assert_eq!(status.code(), Code::Unauthenticated, "{mode}");
            assert!(status.message().contains(why), "{mode}: {status:?}");
            assert!(status.message().contains(".allow_plaintext()"));
        }
    }
    assert_eq!(arrivals.lock().unwrap().len(), 0, "nothing was sent");

    let allowed = [
        GreeterClient::connect(origin.to_string()).await.unwrap(),
        GreeterClient::new(net::channel(addr).await),
    ];
    for greeter in allowed {
        let mut greeter = greeter.with_head_interceptor(token.clone().allow_plaintext());
        for mode in MODES {
            let (replies, end) = call(&mut greeter, mode, "ann").await;
            end.unwrap();
            assert!(!replies.is_empty(), "{mode}");
        }
    }
    let arrivals = arrivals.lock().unwrap();
    assert_eq!(arrivals.len(), 8);
    assert!(
        arrivals
            .iter()
            .all(|a| a.authorization.as_deref() == Some("Bearer s3cret"))
    );
}

#[tokio::test]
async fn over_tls_the_token_goes_without_being_allowed_plaintext() {
    let (door, arrivals) = open_door();
    let certified = rcgen::generate_simple_self_signed(["localhost".to_owned()]).unwrap();
    let (cert, key) = (certified.cert.pem(), certified.signing_key.serialize_pem());
    let server = GreeterServer::new(Scripted::default()).with_head_interceptor(door);
    let router = Server::builder()
        .tls_config(
            tonic::transport::ServerTlsConfig::new().identity(Identity::from_pem(&cert, &key)),
        )
        .unwrap()
        .add_service(server);
    let addr = net::serve(router).await;
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&cert))
        .domain_name("localhost");
    let endpoint = Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap();
    let token = BearerToken::from_source(|| async { Ok("fresh".to_owned()) });
    let mut greeter = GreeterClient::connect(endpoint)
        .await
        .unwrap()
        .with_head_interceptor(token);
    let (_, end) = call(&mut greeter, StreamingKind::Unary, "ann").await;
    end.unwrap();
    let arrivals = arrivals.lock().unwrap();
    assert_eq!(arrivals.len(), 1);
    assert_eq!(arrivals[0].authorization.as_deref(), Some("Bearer fresh"));
}

/// What a timing report said: the method, the final code, the duration and the attempts.
type Report = (&'static str, Code, Duration, Option<Attempts>);

fn reported_timing() -> (Timing, Arc<Mutex<Vec<Report>>>) {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&reports);
    let timing = Timing::with(move |context, status, elapsed| {
        let attempts = context.extensions().get::<Attempts>().copied();
        let report = (context.method().method(), status.code(), elapsed, attempts);
        sink.lock().unwrap().push(report);
    });
    (timing, reports)
}

#[tokio::test]
async fn timing_reports_each_call_once_with_its_final_code_in_every_mode() {
    let addr = serve_greeter(Interceptors::new()).await;
    let (timing, reports) = reported_timing();
    let mut greeter = client(addr, Interceptors::new().with_call(timing)).await;
    for mode in MODES {
        for (name, code) in [("sleep:30", Code::Ok), ("fail:14", Code::Unavailable)] {
            let (_, end) = call(&mut greeter, mode, name).await;
            assert_eq!(end.err().map_or(Code::Ok, |s| s.code()), code, "{mode}");
            let reports = std::mem::take(&mut *reports.lock().unwrap());
            assert_eq!(reports.len(), 1, "{mode} {name}: {reports:?}");
            let (method, reported, elapsed, attempts) = reports[0];
            let expected = match mode {
                StreamingKind::Unary => "SayHello",
                StreamingKind::ServerStreaming => "LotsOfReplies",
                StreamingKind::ClientStreaming => "LotsOfGreetings",
                StreamingKind::BidiStreaming => "BidiHello",
            };
            assert_eq!((method, reported, attempts), (expected, code, None));
            if code == Code::Ok {
                assert!(elapsed >= Duration::from_millis(30), "{mode}: {elapsed:?}");
            }
        }
    }

    // Outside a retry it sees the whole call: every attempt, one report.
    let (door, _) = failing_door(10, Status::unavailable("down"));
    let addr = serve_greeter(Interceptors::new().with_head(door)).await;
    let (timing, reports) = reported_timing();
    let chain = Interceptors::new()
        .with_call(timing)
        .with_call(quick_retry().also_methods(&[SAY_HELLO]));
    let mut greeter = client(addr, chain).await;
    let (_, end) = call(&mut greeter, StreamingKind::Unary, "ann").await;
    assert_eq!(end.unwrap_err().code(), Code::Unavailable);
    let reports = reports.lock().unwrap();
    let methods: Vec<_> = reports.iter().map(|r| (r.0, r.1, r.3)).collect();
    assert_eq!(
        methods,
        [("SayHello", Code::Unavailable, Some(Attempts(3)))]
    );
}

type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The stress set's Everything, enough of it for the idempotency levels: `Ping`
/// (NO_SIDE_EFFECTS), `OldPing` (none), `Upload` (IDEMPOTENT, streamed request).
struct Minimal;

fn unneeded<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not used by these tests"))
}

impl Everything for Minimal {
    async fn ping(&self, _: Request<()>) -> Result<Response<prost_types::Timestamp>, Status> {
        Ok(Response::new(prost_types::Timestamp {
            seconds: 42,
            nanos: 0,
        }))
    }

    #[allow(deprecated)]
    async fn old_ping(&self, _: Request<()>) -> Result<Response<()>, Status> {
        Ok(Response::new(()))
    }

    async fn upload(&self, request: Request<Streaming<Item>>) -> Result<Response<Page>, Status> {
        let mut items = request.into_inner();
        let mut count = 0;
        while items.message().await?.is_some() {
            count += 1;
        }
        Ok(Response::new(Page {
            size: u32::try_from(count).ok(),
            ..Page::default()
        }))
    }

    type ListStream = Boxed<Item>;

    async fn list(&self, _: Request<Page>) -> Result<Response<Self::ListStream>, Status> {
        unneeded()
    }

    type ChatStream = Boxed<HttpRequest>;

    async fn chat(
        &self,
        _: Request<Streaming<HttpRequest>>,
    ) -> Result<Response<Self::ChatStream>, Status> {
        unneeded()
    }

    async fn r#type(&self, _: Request<Kind>) -> Result<Response<Kind>, Status> {
        unneeded()
    }

    async fn type_2(&self, _: Request<Kind>) -> Result<Response<Kind>, Status> {
        unneeded()
    }

    async fn self_(&self, _: Request<Item>) -> Result<Response<Item>, Status> {
        unneeded()
    }

    async fn r#async(&self, _: Request<Item>) -> Result<Response<Item>, Status> {
        unneeded()
    }
}

async fn serve_everything(door: impl HeadInterceptor) -> SocketAddr {
    let server = EverythingServer::new(Minimal).with_head_interceptor(door);
    net::serve(Server::builder().add_service(server)).await
}

#[tokio::test]
async fn a_call_the_client_head_chain_refuses_still_ends_in_the_call_interceptors() {
    let (door, arrivals) = open_door();
    let addr = serve_greeter(Interceptors::new().with_head(door)).await;
    let (timing, reports) = reported_timing();
    let chain = Interceptors::new()
        .with_head(BearerToken::new("s3cret").unwrap())
        .with_call(timing);
    let mut greeter = client(addr, chain).await;
    for mode in MODES {
        let (_, end) = call(&mut greeter, mode, "ann").await;
        assert_eq!(end.unwrap_err().code(), Code::Unauthenticated, "{mode}");
        let reports = std::mem::take(&mut *reports.lock().unwrap());
        assert_eq!(reports.len(), 1, "{mode}: {reports:?}");
        assert_eq!(reports[0].1, Code::Unauthenticated, "{mode}");
    }
    assert_eq!(arrivals.lock().unwrap().len(), 0, "nothing was sent");
}

#[tokio::test]
async fn each_attempt_tells_the_server_the_time_left_then() {
    let (door, arrivals) = failing_door(2, Status::unavailable("warming up"));
    let addr = serve_greeter(Interceptors::new().with_head(door)).await;
    let retry = Retry::new()
        .also_methods(&[SAY_HELLO])
        .backoff(Duration::from_millis(200), Duration::from_millis(200))
        .jitter(0.0);
    let mut greeter = client(addr, Interceptors::new().with_call(retry)).await;
    let mut request = Request::new(hello("ann"));
    request.set_timeout(Duration::from_secs(5));
    greeter.say_hello(request).await.unwrap();
    let timeouts: Vec<Duration> = arrivals
        .lock()
        .unwrap()
        .iter()
        .map(|arrival| arrival.timeout.expect("grpc-timeout on every attempt"))
        .collect();
    assert_eq!(timeouts.len(), 3);
    assert!(timeouts[0] <= Duration::from_secs(5), "{timeouts:?}");
    // Each later attempt left at least one backoff (200 ms) later, with that much less time.
    for pair in timeouts.windows(2) {
        assert!(
            pair[1] + Duration::from_millis(200) <= pair[0],
            "{timeouts:?}"
        );
    }
}
