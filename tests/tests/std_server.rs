//! The standard server interceptors through the golden Greeter, in all four modes: panic
//! recovery (handler, response stream, every kind of interceptor; 10 000 panics on one
//! connection), deadlines (the client's `grpc-timeout`, the server's maximum, a client default),
//! and bearer auth handing the caller's identity to the handler.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greeter_runtime::interceptor::{
    Call, CallContext, CallInterceptor, Head, HeadInterceptor, InterceptFuture, Next,
};
use greeter_runtime::interceptors::{BearerAuth, DefaultDeadline, MaxDeadline, Recovery};
use greeter_runtime::{Interceptors, StreamingKind};
use greeter_tests::captured::Captured;
use greeter_tests::greeter::HelloRequest;
use greeter_tests::greeter::greeter_client::GreeterClient;
use greeter_tests::greeter::greeter_methods;
use greeter_tests::greeter::greeter_server::GreeterServer;
use greeter_tests::net;
use greeter_tests::scripted::{self, Caller, Runs, Scripted};
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Status};

const MODES: [StreamingKind; 4] = [
    StreamingKind::Unary,
    StreamingKind::ServerStreaming,
    StreamingKind::ClientStreaming,
    StreamingKind::BidiStreaming,
];

/// Serves the scripted Greeter behind `chain`.
async fn start(chain: Interceptors) -> (SocketAddr, Arc<Runs>) {
    let scripted = Scripted::default();
    let runs = Arc::clone(&scripted.runs);
    let server = GreeterServer::new(scripted).with_interceptors(chain);
    (
        net::serve(Server::builder().add_service(server)).await,
        runs,
    )
}

async fn client(addr: SocketAddr, chain: Interceptors) -> GreeterClient<Channel> {
    GreeterClient::new(net::channel(addr).await).with_interceptors(chain)
}

fn hello(name: &str) -> HelloRequest {
    HelloRequest { name: name.into() }
}

/// One call in `mode` ([`scripted::call`]) with the `metadata` pairs.
async fn call(
    client: &mut GreeterClient<Channel>,
    mode: StreamingKind,
    names: &[&str],
    metadata: &[(&'static str, &str)],
) -> (Vec<String>, Result<(), Status>) {
    let mut map = tonic::metadata::MetadataMap::new();
    for (key, value) in metadata {
        map.insert(*key, value.parse().unwrap());
    }
    scripted::call(client, mode, names, &map).await
}

/// Panics where the call's `x-panic` metadata says: `head`, `call` (around hook), `send` (each
/// sent message), `end` (the end hook). Also records every call's final code.
#[derive(Default)]
struct PanicAt {
    ends: Mutex<Vec<Code>>,
}

#[derive(Clone)]
struct Plan(String);

impl HeadInterceptor for PanicAt {
    fn head<'a>(&'a self, head: &'a mut Head<'_>) -> InterceptFuture<'a> {
        let plan = head
            .metadata()
            .get("x-panic")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if plan == "head" {
            panic!("head interceptor panic: secret-panic-text");
        }
        head.extensions_mut().insert(Plan(plan));
        Box::pin(std::future::ready(Ok(())))
    }
}

impl CallInterceptor for PanicAt {
    fn call<'a>(&'a self, call: &'a mut Call<'_>, next: Next<'a>) -> InterceptFuture<'a> {
        let plan = call
            .extensions_mut()
            .and_then(|extensions| extensions.get::<Plan>().cloned());
        if let Some(plan) = &plan {
            call.context().extensions().insert(plan.clone());
        }
        Box::pin(async move {
            if plan.is_some_and(|Plan(plan)| plan == "call") {
                panic!("call interceptor panic: secret-panic-text");
            }
            next.run(call).await
        })
    }

    fn on_send(
        &self,
        context: &CallContext,
        _: &mut greeter_runtime::interceptor::AnyMessage<'_>,
    ) -> Result<(), Status> {
        let plan = context.extensions().get::<Plan>().cloned();
        if plan.is_some_and(|Plan(plan)| plan == "send") {
            panic!("send hook panic: secret-panic-text");
        }
        Ok(())
    }

    fn on_end(&self, context: &CallContext, status: &Status) {
        self.ends.lock().unwrap().push(status.code());
        let plan = context.extensions().get::<Plan>().cloned();
        if plan.is_some_and(|Plan(plan)| plan == "end") {
            panic!("end hook panic: secret-panic-text");
        }
    }
}

fn assert_recovered(end: &Result<(), Status>, what: &str) {
    let status = end.as_ref().expect_err(what);
    assert_eq!(status.code(), Code::Internal, "{what}: {status:?}");
    assert_eq!(status.message(), "internal error", "{what}");
    assert!(
        !format!("{status:?}").contains("secret"),
        "{what}: {status:?}"
    );
}

#[tokio::test]
async fn panics_in_handlers_streams_and_interceptors_answer_internal_in_every_mode() {
    let recovery = Arc::new(Recovery::new());
    let panics = Arc::new(PanicAt::default());
    let chain = Interceptors::new()
        .with_shared_recovery(Arc::clone(&recovery))
        .with_shared_head(Arc::clone(&panics) as _)
        .with_shared_call(Arc::clone(&panics) as _);
    let (addr, _) = start(chain).await;
    let mut greeter = client(addr, Interceptors::new()).await;
    let mut expected_panics = 0;
    for mode in MODES {
        // The handler panics (streaming requests: at the second message).
        let (replies, end) = call(&mut greeter, mode, &["panic"], &[]).await;
        assert_recovered(&end, &format!("{mode} handler"));
        assert!(replies.is_empty(), "{mode}: {replies:?}");
        expected_panics += 1;
        if mode.is_client_streaming() {
            let (replies, end) = call(&mut greeter, mode, &["ann", "panic"], &[]).await;
            assert_recovered(&end, &format!("{mode} second message"));
            // The reply to `ann` may still sit in the encoder's buffer when the stream panics
            // (both requests arrive together): it is lost with the stream.
            assert!(
                replies.len() <= 1 && replies.iter().all(|r| r == "hello ann"),
                "{replies:?}"
            );
            expected_panics += 1;
        }
        if mode.is_server_streaming() {
            let (replies, end) = call(&mut greeter, mode, &["panic-stream"], &[]).await;
            assert_recovered(&end, &format!("{mode} response stream"));
            assert!(replies.is_empty(), "{mode}: {replies:?}");
            expected_panics += 1;
        }
        for point in ["head", "call", "send", "end"] {
            let (_, end) = call(&mut greeter, mode, &["ann"], &[("x-panic", point)]).await;
            assert_recovered(&end, &format!("{mode} {point} interceptor"));
            expected_panics += 1;
        }
        let (replies, end) = call(&mut greeter, mode, &["bob"], &[]).await;
        end.unwrap();
        assert!(replies.iter().all(|r| r == "hello bob"), "{replies:?}");
    }
    assert_eq!(recovery.recovered(), expected_panics);
    // Call interceptors saw every recovered call end INTERNAL (a head panic included), except
    // the calls whose end hook itself panicked: they had ended OK when it ran.
    let ends = panics.ends.lock().unwrap().clone();
    let internal = ends.iter().filter(|code| **code == Code::Internal).count() as u64;
    assert_eq!(internal, expected_panics - MODES.len() as u64, "{ends:?}");
}

/// Records the client address of every call.
#[derive(Default)]
struct Peers(Mutex<Vec<Option<SocketAddr>>>);

impl CallInterceptor for Peers {
    fn on_end(&self, context: &CallContext, _: &Status) {
        self.0.lock().unwrap().push(context.peer());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_panicking_calls_then_a_normal_one_on_the_same_connection() {
    const PANICS: usize = 10_000;
    const IN_FLIGHT: usize = 32;
    let recovery = Arc::new(Recovery::new());
    let peers = Arc::new(Peers::default());
    let chain = Interceptors::new()
        .with_shared_recovery(Arc::clone(&recovery))
        .with_shared_call(Arc::clone(&peers) as _);
    let (addr, runs) = start(chain).await;
    let greeter = client(addr, Interceptors::new()).await;
    let mut calls = tokio::task::JoinSet::new();
    for worker in 0..IN_FLIGHT {
        let mut greeter = greeter.clone();
        calls.spawn(async move {
            for _ in (worker..PANICS).step_by(IN_FLIGHT) {
                let status = greeter.say_hello(hello("panic")).await.unwrap_err();
                assert_eq!(status.code(), Code::Internal);
            }
        });
    }
    while let Some(done) = calls.join_next().await {
        done.unwrap();
    }
    let reply = greeter.clone().say_hello(hello("after")).await.unwrap();
    assert_eq!(reply.into_inner().reply, "hello after");
    assert_eq!(recovery.recovered(), PANICS as u64);
    assert_eq!(runs.started.load(Ordering::SeqCst), PANICS + 1);
    let peers = peers.0.lock().unwrap();
    assert_eq!(peers.len(), PANICS + 1);
    // One client address for every call: the connection survived every panic.
    assert!(peers[0].is_some());
    assert!(peers.iter().all(|peer| *peer == peers[0]), "reconnected");
}

#[tokio::test]
async fn a_recovered_panic_is_logged_with_its_message_and_backtrace() {
    let (captured, _guard) = Captured::start();
    let (addr, _) = start(Interceptors::new().with_recovery(Recovery::new())).await;
    let mut greeter = client(addr, Interceptors::new()).await;
    let status = greeter.say_hello(hello("panic")).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    let log = captured.text();
    assert!(log.contains("ERROR"), "{log}");
    assert!(
        log.contains("scripted panic for panic: secret-panic-text"),
        "{log}"
    );
    assert!(log.contains("SayHello"), "{log}");
    assert!(log.contains("tests/src/lib.rs:"), "the location: {log}");
    // The backtrace is the panicking thread's: it runs through the handler's source.
    let backtrace = log.split("backtrace=").nth(1).expect("a backtrace field");
    assert!(
        backtrace.contains("src/lib.rs:"),
        "a backtrace: {backtrace}"
    );
    assert!(
        backtrace.contains("golden/greeter/greeter.v1.rs:"),
        "{backtrace}"
    );
}

/// How long a call in `mode` took to fail, and how.
async fn timed_call(
    greeter: &mut GreeterClient<Channel>,
    mode: StreamingKind,
    names: &[&str],
    metadata: &[(&'static str, &str)],
) -> (Vec<String>, Status, Duration) {
    let started = Instant::now();
    let (replies, end) = call(greeter, mode, names, metadata).await;
    (replies, end.expect_err("the call fails"), started.elapsed())
}

/// Waits until `runs` counts `dropped` handler runs (or their streams) dropped unfinished.
async fn dropped(runs: &Runs, dropped: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while runs.dropped.load(Ordering::SeqCst) < dropped {
        assert!(Instant::now() < deadline, "{runs:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn the_server_maximum_ends_every_mode_deadline_exceeded_and_drops_the_handler() {
    let chain = Interceptors::new().with_head(MaxDeadline::new(Duration::from_millis(300)));
    let (addr, runs) = start(chain).await;
    let mut greeter = client(addr, Interceptors::new()).await;
    for (round, mode) in MODES.into_iter().enumerate() {
        let names: &[&str] = match mode {
            StreamingKind::ServerStreaming => &["sleep:200"],
            StreamingKind::Unary => &["sleep:5000"],
            _ => &["ann", "sleep:5000"],
        };
        let (replies, status, took) = timed_call(&mut greeter, mode, names, &[]).await;
        assert_eq!(status.code(), Code::DeadlineExceeded, "{mode}: {status:?}");
        assert!(took < Duration::from_secs(3), "{mode} took {took:?}");
        if mode == StreamingKind::BidiStreaming {
            assert_eq!(replies, ["hello ann"]);
        }
        dropped(&runs, round + 1).await;
    }
    // A call inside the limit is untouched.
    let (replies, end) = call(&mut greeter, StreamingKind::ServerStreaming, &["ok"], &[]).await;
    end.unwrap();
    assert_eq!(replies.len(), 3);
}

/// Sends one SayHello for `name` over raw HTTP/2 with `grpc-timeout: <timeout>` (a peer that
/// does not enforce its own timeout, unlike tonic's channel) and returns the `grpc-status` the
/// server ends it with.
async fn raw_call_with_timeout(addr: SocketAddr, name: &str, timeout: &str) -> Option<String> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (send, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut send = send.ready().await.unwrap();
    let request = http::Request::post(format!("http://{addr}/greeter.v1.Greeter/SayHello"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("grpc-timeout", timeout)
        .body(())
        .unwrap();
    let (response, mut body) = send.send_request(request, false).unwrap();
    let message = prost::Message::encode_to_vec(&hello(name));
    let mut frame = vec![0];
    frame.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(&message);
    body.send_data(frame.into(), true).unwrap();
    let (head, mut body) = response.await.unwrap().into_parts();
    if let Some(status) = head.headers.get("grpc-status") {
        return Some(status.to_str().unwrap().to_owned());
    }
    while let Some(data) = body.data().await {
        data.unwrap();
    }
    let trailers = body.trailers().await.unwrap()?;
    Some(trailers.get("grpc-status")?.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn the_clients_grpc_timeout_is_enforced_as_deadline_exceeded_not_cancelled() {
    let (addr, runs) = start(Interceptors::new()).await;
    let started = Instant::now();
    let status = raw_call_with_timeout(addr, "sleep:5000", "150m").await;
    assert_eq!(status.as_deref(), Some("4"), "DEADLINE_EXCEEDED");
    assert!(started.elapsed() < Duration::from_secs(3));
    dropped(&runs, 1).await;
    // In time: OK.
    let status = raw_call_with_timeout(addr, "sleep:10", "5S").await;
    assert_eq!(status.as_deref(), Some("0"));
}

#[tokio::test]
async fn the_handler_reads_its_deadline_from_the_request_extensions() {
    let max = MaxDeadline::new(Duration::from_secs(30));
    let (addr, _) = start(Interceptors::new().with_head(max)).await;
    let mut greeter = client(addr, Interceptors::new()).await;
    let mut timed = Request::new(hello("deadline"));
    timed.set_timeout(Duration::from_secs(2));
    let reply = greeter.say_hello(timed).await.unwrap().into_inner().reply;
    let left: u64 = reply
        .strip_prefix("deadline in ")
        .and_then(|rest| rest.strip_suffix(" ms"))
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("{reply}"));
    // The client's 2 s, not the server's 30 s maximum.
    assert!((1_000..2_000).contains(&left), "{reply}");
    let (addr, _) = start(Interceptors::new()).await;
    let mut greeter = client(addr, Interceptors::new()).await;
    let reply = greeter.say_hello(hello("deadline")).await.unwrap();
    assert_eq!(reply.into_inner().reply, "no deadline");
}

/// Records the `grpc-timeout` each call arrives with.
#[derive(Default)]
struct Timeouts(Mutex<Vec<Option<Duration>>>);

impl HeadInterceptor for Timeouts {
    fn head<'a>(&'a self, head: &'a mut Head<'_>) -> InterceptFuture<'a> {
        let timeout = head.timeout();
        self.0.lock().unwrap().push(timeout.ok().flatten());
        Box::pin(std::future::ready(Ok(())))
    }
}

#[tokio::test]
async fn a_client_default_deadline_is_sent_and_enforced_in_every_mode() {
    let timeouts = Arc::new(Timeouts::default());
    let (addr, _) = start(Interceptors::new().with_shared_head(Arc::clone(&timeouts) as _)).await;
    let defaults = DefaultDeadline::all(Duration::from_millis(200)).method(
        &greeter_methods::LOTS_OF_REPLIES,
        Duration::from_millis(250),
    );
    let mut greeter = client(addr, Interceptors::new().with_head(defaults)).await;
    for mode in MODES {
        let names: &[&str] = match mode {
            StreamingKind::Unary => &["sleep:5000"],
            StreamingKind::ServerStreaming => &["sleep:100"],
            _ => &["ann", "sleep:5000"],
        };
        let (_, status, took) = timed_call(&mut greeter, mode, names, &[]).await;
        assert_eq!(status.code(), Code::DeadlineExceeded, "{mode}: {status:?}");
        assert!(took < Duration::from_secs(2), "{mode} took {took:?}");
    }
    let sent = timeouts.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 4, "{sent:?}");
    for (mode, timeout) in MODES.into_iter().zip(sent) {
        let limit = match mode {
            StreamingKind::ServerStreaming => Duration::from_millis(250),
            _ => Duration::from_millis(200),
        };
        let timeout = timeout.expect("grpc-timeout sent");
        assert!(
            timeout <= limit && timeout > limit / 2,
            "{mode}: {timeout:?}"
        );
    }
    // The caller's own timeout wins over the default.
    let mut quick = Request::new(hello("sleep:300"));
    quick.set_timeout(Duration::from_secs(5));
    let reply = greeter.say_hello(quick).await.unwrap();
    assert_eq!(reply.into_inner().reply, "hello sleep:300");
}

#[tokio::test]
async fn a_validated_identity_reaches_the_handler_and_no_token_is_refused_before_it() {
    let auth = BearerAuth::with_validator(|token: String| async move {
        match token.strip_prefix("user-") {
            Some(name) => Ok(Caller(name.to_owned())),
            None => Err(Status::unauthenticated("unknown token")),
        }
    });
    let (addr, runs) = start(Interceptors::new().with_head(auth)).await;
    let mut greeter = client(addr, Interceptors::new()).await;
    for mode in MODES {
        let (replies, end) = call(
            &mut greeter,
            mode,
            &["ann"],
            &[("authorization", "Bearer user-zoe")],
        )
        .await;
        end.unwrap();
        assert!(!replies.is_empty());
        assert!(
            replies.iter().all(|r| r == "hello ann as zoe"),
            "{mode}: {replies:?}"
        );
        for metadata in [&[][..], &[("authorization", "Bearer robot")][..]] {
            let started = runs.started.load(Ordering::SeqCst);
            let (_, end) = call(&mut greeter, mode, &["ann"], metadata).await;
            let status = end.unwrap_err();
            assert_eq!(status.code(), Code::Unauthenticated, "{mode}: {status:?}");
            assert_eq!(runs.started.load(Ordering::SeqCst), started, "handler ran");
        }
    }
}

#[tokio::test]
async fn skipped_methods_need_no_token() {
    let auth = BearerAuth::new("secret").skip_method(&greeter_methods::SAY_HELLO);
    let (addr, _) = start(Interceptors::new().with_head(auth)).await;
    let mut greeter = client(addr, Interceptors::new()).await;
    let (replies, end) = call(&mut greeter, StreamingKind::Unary, &["ann"], &[]).await;
    end.unwrap();
    assert_eq!(replies, ["hello ann"]);
    for mode in [
        StreamingKind::ServerStreaming,
        StreamingKind::ClientStreaming,
        StreamingKind::BidiStreaming,
    ] {
        let (_, end) = call(&mut greeter, mode, &["ann"], &[]).await;
        assert_eq!(end.unwrap_err().code(), Code::Unauthenticated, "{mode}");
        let (_, end) = call(
            &mut greeter,
            mode,
            &["ann"],
            &[("authorization", "Bearer secret")],
        )
        .await;
        end.unwrap();
    }
}
