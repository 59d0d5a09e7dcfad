//! The logging interceptor through the golden Greeter, on both sides and in all four modes,
//! everything `tracing` emits captured at TRACE: one span and one final event per call per side
//! with its identity, code, duration and message counts; allowed metadata shown, secrets never
//! (the bearer token, `-bin` values); failures at the level configured for their code; calls
//! refused on their head logged too; payloads only when asked for, cut at the limit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use greeter_runtime::interceptor::{Call, CallInterceptor, InterceptFuture, Next};
use greeter_runtime::interceptors::{BearerAuth, BearerToken, Logging};
use greeter_runtime::{Interceptors, StreamingKind};
use greeter_tests::captured::Captured;
use greeter_tests::greeter::HelloRequest;
use greeter_tests::greeter::greeter_client::GreeterClient;
use greeter_tests::greeter::greeter_server::GreeterServer;
use greeter_tests::net;
use greeter_tests::scripted::{self, Scripted};
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Status};
use tracing::Level;

const MODES: [StreamingKind; 4] = [
    StreamingKind::Unary,
    StreamingKind::ServerStreaming,
    StreamingKind::ClientStreaming,
    StreamingKind::BidiStreaming,
];

/// The bearer token: it must never reach the log.
const TOKEN: &str = "t0ken-that-must-never-be-logged";
/// The value of a binary metadata key, allow-listed: it must never reach the log either, raw or
/// as sent (base64).
const BIN_VALUE: &[u8] = b"binary-secret-value";
const BIN_VALUE_BASE64: &str = "YmluYXJ5LXNlY3JldC12YWx1ZQ";

/// The log once it holds `count` final events (the server's may come a moment after the
/// client has its answer), or as it is after two seconds.
async fn settled(log: &Captured, count: usize) -> String {
    for _ in 0..200 {
        let text = log.text();
        if text.matches("finished call").count() >= count {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    log.text()
}

/// The final events of `method`'s calls on `side` in `log`.
fn finished<'a>(log: &'a str, side: &str, method: &str) -> Vec<&'a str> {
    let side = format!("side=\"{side}\"");
    let method = format!("rpc.method=\"{method}\"");
    log.lines()
        .filter(|line| line.contains("finished call"))
        .filter(|line| line.contains(&side) && line.contains(&method))
        .collect()
}

/// The one final event of `method` on `side`; fails if there is not exactly one.
fn the_end<'a>(log: &'a str, side: &str, method: &str) -> &'a str {
    match finished(log, side, method)[..] {
        [line] => line,
        ref lines => panic!("one end of {method} on the {side} side, not {lines:#?}\n{log}"),
    }
}

fn level_of(line: &str) -> &str {
    line.split_whitespace().next().unwrap_or_default()
}

fn method_name(mode: StreamingKind) -> &'static str {
    match mode {
        StreamingKind::Unary => "SayHello",
        StreamingKind::ServerStreaming => "LotsOfReplies",
        StreamingKind::ClientStreaming => "LotsOfGreetings",
        StreamingKind::BidiStreaming => "BidiHello",
    }
}

/// Serves the scripted Greeter behind `chain`.
async fn start(chain: Interceptors) -> SocketAddr {
    let server = GreeterServer::new(Scripted::default()).with_interceptors(chain);
    net::serve(Server::builder().add_service(server)).await
}

/// A client whose head chain sends `token` as its bearer token, with `logging` as its call chain.
async fn client(addr: SocketAddr, token: &str, logging: Logging) -> GreeterClient<Channel> {
    let token = BearerToken::new(token).unwrap().allow_plaintext();
    let chain = Interceptors::new().with_head(token).with_call(logging);
    GreeterClient::new(net::channel(addr).await).with_interceptors(chain)
}

/// A request carrying an allow-listed key and a binary key besides the bearer token.
/// One call in `mode` ([`scripted::call`]) with the metadata every call of this test carries.
async fn call(
    client: &mut GreeterClient<Channel>,
    mode: StreamingKind,
    names: &[&str],
) -> (Vec<String>, Result<(), Status>) {
    let mut metadata = MetadataMap::new();
    metadata.insert("client-os", "plan9".parse().unwrap());
    metadata.insert("x-not-listed", "value-not-listed".parse().unwrap());
    metadata.insert_bin("x-trace-bin", MetadataValue::from_bytes(BIN_VALUE));
    scripted::call(client, mode, names, &metadata).await
}

/// Logs from inside the call, as a handler would.
struct Inside;

impl CallInterceptor for Inside {
    fn call<'a>(&'a self, call: &'a mut Call<'_>, next: Next<'a>) -> InterceptFuture<'a> {
        tracing::info!("inside the call");
        Box::pin(next.run(call))
    }
}

#[tokio::test]
async fn every_call_is_logged_once_per_side_and_secrets_never() {
    let (log, _guard) = Captured::start();
    let logging = Logging::new()
        .allow_metadata(["client-os", "x-trace-bin", "authorization"])
        .payloads(4096);
    let server_chain = Interceptors::new()
        .with_head(BearerAuth::new(TOKEN))
        .with_call(logging.clone())
        .with_call(Inside);
    let addr = start(server_chain).await;
    let mut greeter = client(addr, TOKEN, logging).await;
    for mode in MODES {
        let (replies, end) = call(&mut greeter, mode, &["ann", "bob", "cy"]).await;
        end.unwrap_or_else(|status| panic!("{mode:?}: {status:?}"));
        assert!(!replies.is_empty(), "{mode:?}");
    }
    let log = settled(&log, 8).await;

    // (mode, server received, server sent): the client's counts are the other way round.
    for (mode, received, sent) in [
        (StreamingKind::Unary, 1, 1),
        (StreamingKind::ServerStreaming, 1, 3),
        (StreamingKind::ClientStreaming, 3, 1),
        (StreamingKind::BidiStreaming, 3, 3),
    ] {
        let method = method_name(mode);
        for (side, level, received, sent) in [
            ("server", "INFO", received, sent),
            ("client", "DEBUG", sent, received),
        ] {
            let line = the_end(&log, side, method);
            assert_eq!(level_of(line), level, "{line}");
            for field in [
                "grpc.call{".to_owned(),
                "rpc.system=\"grpc\"".to_owned(),
                "rpc.service=\"greeter.v1.Greeter\"".to_owned(),
                format!("grpc.kind=\"{}\"", mode.as_str()),
                "grpc.code=Ok".to_owned(),
                "duration_ms=".to_owned(),
                format!("messages.received={received} "),
                format!("messages.sent={sent}"),
                "client-os: \"plan9\"".to_owned(),
                "x-not-listed: [redacted]".to_owned(),
                "authorization: [redacted]".to_owned(),
                "x-trace-bin: [redacted]".to_owned(),
            ] {
                assert!(line.contains(&field), "{field} in {line}");
            }
            assert!(
                !line.contains("grpc.message="),
                "no message on success: {line}"
            );
        }
        let server = the_end(&log, "server", method);
        assert!(server.contains("peer=127.0.0.1:"), "{server}");
    }

    // The rest of the call runs inside the server's span.
    let inside: Vec<_> = log
        .lines()
        .filter(|l| l.contains("inside the call"))
        .collect();
    assert_eq!(inside.len(), 4, "{log}");
    for (line, mode) in inside.iter().zip(MODES) {
        let method = format!("rpc.method=\"{}\"", method_name(mode));
        assert!(
            line.contains("grpc.call{") && line.contains(&method),
            "{line}"
        );
        assert!(line.contains("side=\"server\""), "{line}");
    }

    // Payloads, asked for: every message both ways on both sides (1+1, 1+3, 3+1, 3+3).
    let payloads = log.lines().filter(|l| l.contains("grpc.payload=")).count();
    assert_eq!(payloads, 2 * (2 + 4 + 4 + 6), "{log}");
    assert!(
        log.contains("grpc.payload=HelloRequest { name: \"bob\" }"),
        "{log}"
    );
    assert!(
        log.contains("grpc.payload=HelloResponse { reply: \"hello cy\" }"),
        "{log}"
    );

    // TRACE everywhere, payloads on, secrets allow-listed: still not a trace of them.
    assert!(
        log.contains("TRACE"),
        "hyper and h2 logged at TRACE too: {log}"
    );
    for secret in [
        TOKEN,
        "binary-secret-value",
        BIN_VALUE_BASE64,
        "value-not-listed",
    ] {
        assert!(!log.contains(secret), "{secret} leaked:\n{log}");
    }
}

#[tokio::test]
async fn failures_and_refusals_are_logged_at_their_level() {
    let (captured, _guard) = Captured::start();
    let logging = Logging::new().level(Code::NotFound, Level::WARN);
    let server_chain = Interceptors::new()
        .with_head(BearerAuth::new(TOKEN))
        .with_call(logging.clone());
    let scripted = Scripted::default();
    let runs = Arc::clone(&scripted.runs);
    let server = GreeterServer::new(scripted).with_interceptors(server_chain);
    let addr = net::serve(Server::builder().add_service(server)).await;
    let started = || runs.started.load(Ordering::SeqCst);

    // Failed by the handler: NOT_FOUND at the level set for it, on both sides.
    let mut greeter = client(addr, TOKEN, logging.clone()).await;
    for mode in MODES {
        let (_, end) = call(&mut greeter, mode, &["fail:5"]).await;
        assert_eq!(end.unwrap_err().code(), Code::NotFound, "{mode:?}");
    }
    let failed = settled(&captured, 8).await;
    for mode in MODES {
        for side in ["server", "client"] {
            let line = the_end(&failed, side, method_name(mode));
            assert_eq!(level_of(line), "WARN", "{line}");
            assert!(line.contains("grpc.code=NotFound"), "{line}");
            assert!(line.contains("grpc.message=\"scripted failure\""), "{line}");
        }
    }
    let handled = started();

    // Refused on the head by the server's auth: no handler, no message, logged all the same.
    let mut intruder = client(addr, "not-the-token", logging).await;
    for mode in MODES {
        let (_, end) = call(&mut intruder, mode, &["ann"]).await;
        assert_eq!(end.unwrap_err().code(), Code::Unauthenticated, "{mode:?}");
    }
    let log = settled(&captured, 16).await;
    let refused = &log[failed.len()..];
    for mode in MODES {
        for side in ["server", "client"] {
            let line = the_end(refused, side, method_name(mode));
            assert_eq!(level_of(line), "INFO", "{line}");
            assert!(line.contains("grpc.code=Unauthenticated"), "{line}");
            assert!(line.contains("grpc.message=\"invalid token\""), "{line}");
            assert!(line.contains("duration_ms="), "{line}");
        }
        let server = the_end(refused, "server", method_name(mode));
        assert!(
            server.contains("messages.received=0 messages.sent=0"),
            "{server}"
        );
        assert!(
            server.contains("rpc.service=\"greeter.v1.Greeter\""),
            "{server}"
        );
    }
    assert_eq!(started(), handled);

    // Refused by the method's request metadata check (its `request-id` is an int64).
    let mut bad_id = Request::new(HelloRequest { name: "ann".into() });
    bad_id
        .metadata_mut()
        .insert("request-id", "seventeen".parse().unwrap());
    let status = greeter.say_hello(bad_id).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let all = settled(&captured, 18).await;
    let line = the_end(&all[log.len()..], "server", "SayHello");
    assert_eq!(level_of(line), "INFO", "{line}");
    assert!(line.contains("grpc.code=InvalidArgument"), "{line}");
    assert!(
        line.contains("messages.received=0 messages.sent=0"),
        "{line}"
    );
    assert_eq!(started(), handled);
    for secret in [TOKEN, "not-the-token"] {
        assert!(!all.contains(secret), "{secret} leaked:\n{all}");
    }
}

#[tokio::test]
async fn payloads_are_logged_only_when_asked_and_cut_at_the_limit() {
    let (log, _guard) = Captured::start();
    // The server logs no payloads; the client logs them cut at 40 bytes.
    let addr = start(Interceptors::new().with_call(Logging::new())).await;
    let mut greeter = client(addr, TOKEN, Logging::new().payloads(40)).await;
    let name = format!("{}-tail-past-the-limit", "n".repeat(60));
    for mode in MODES {
        let (_, end) = call(&mut greeter, mode, &[&name]).await;
        end.unwrap_or_else(|status| panic!("{mode:?}: {status:?}"));
    }
    let log = settled(&log, 8).await;
    let payloads: Vec<_> = log
        .lines()
        .filter(|l| l.contains("grpc.payload="))
        .collect();
    // The client's messages only: 1+1, 1+3, 1+1, 1+1.
    assert_eq!(payloads.len(), 10, "{log}");
    for line in &payloads {
        assert!(line.contains("side=\"client\""), "{line}");
        assert!(!line.contains("side=\"server\""), "{line}");
        assert!(line.contains("…[truncated at 40 bytes]"), "{line}");
        assert!(line.contains("grpc.message.size="), "{line}");
    }
    // Exactly the first 40 bytes of the `Debug` text, then the note.
    let sent = format!(
        "grpc.payload=HelloRequest {{ name: \"{}…[truncated at 40 bytes]",
        "n".repeat(40 - r#"HelloRequest { name: ""#.len())
    );
    let received = format!(
        "grpc.payload=HelloResponse {{ reply: \"hello {}…[truncated at 40 bytes]",
        "n".repeat(40 - r#"HelloResponse { reply: "hello "#.len())
    );
    for (payload, count) in [(sent, 4), (received, 6)] {
        let found = payloads.iter().filter(|line| line.ends_with(&payload));
        assert_eq!(found.count(), count, "{payload} in {log}");
    }
    assert!(!log.contains("tail-past-the-limit"), "{log}");
    // Logging alone wraps the server's calls while its span is enabled: the request metadata
    // it records there is on every call's end.
    for mode in MODES {
        let line = the_end(&log, "server", method_name(mode));
        assert!(line.contains("client-os: [redacted]"), "{line}");
    }
}
