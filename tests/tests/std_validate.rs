//! The standard validation interceptor through the golden Greeter, in all four modes:
//! `HelloRequest.name` must not be empty, must be at most 100 characters (characters, not
//! bytes) and must not start or end with white space. On the server an invalid request never
//! reaches the handler and the client gets INVALID_ARGUMENT with a google.rpc.BadRequest
//! listing every violation; on the client an invalid request is never sent.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use greeter_runtime::StreamingKind;
use greeter_runtime::interceptors::{Validation, Violations};
use greeter_runtime::status::{BadRequest, Details};
use greeter_tests::greeter::HelloRequest;
use greeter_tests::greeter::greeter_client::GreeterClient;
use greeter_tests::greeter::greeter_server::GreeterServer;
use greeter_tests::net;
use greeter_tests::scripted::{self, Runs, Scripted};
use tonic::transport::{Channel, Server};
use tonic::{Code, Status};
use tonic_types::StatusExt;

const MODES: [StreamingKind; 4] = [
    StreamingKind::Unary,
    StreamingKind::ServerStreaming,
    StreamingKind::ClientStreaming,
    StreamingKind::BidiStreaming,
];

const EMPTY: &str = "must not be empty";
const PADDED: &str = "must not start or end with white space";

/// The rules of `HelloRequest`. (`HelloRequest` and `Validate` both belong to other crates,
/// so this test registers a function; a crate that generates its own messages can
/// `impl Validate for HelloRequest` and register it with `Validation::message`.)
fn hello_rules(request: &HelloRequest, violations: &mut Violations) {
    let name = &request.name;
    violations.ensure(!name.is_empty(), "name", EMPTY);
    let chars = name.chars().count();
    violations.ensure(
        chars <= 100,
        "name",
        format!("must be at most 100 characters, not {chars}"),
    );
    violations.ensure(name.trim() == name, "name", PADDED);
}

fn validation() -> Validation {
    Validation::new().message_with(hello_rules)
}

/// Serves the scripted Greeter, validated on the server or not.
async fn start(validated: bool) -> (SocketAddr, Arc<Runs>) {
    let scripted = Scripted::default();
    let runs = Arc::clone(&scripted.runs);
    let server = match validated {
        true => GreeterServer::new(scripted).with_call_interceptor(validation()),
        false => GreeterServer::new(scripted),
    };
    (
        net::serve(Server::builder().add_service(server)).await,
        runs,
    )
}

async fn plain_client(addr: SocketAddr) -> GreeterClient<Channel> {
    GreeterClient::new(net::channel(addr).await)
}

async fn validating_client(addr: SocketAddr) -> GreeterClient<Channel> {
    GreeterClient::new(net::channel(addr).await).with_call_interceptor(validation())
}

/// One call in `mode` ([`scripted::call`]), with no metadata.
async fn call(
    client: &mut GreeterClient<Channel>,
    mode: StreamingKind,
    names: &[&str],
) -> (Vec<String>, Result<(), Status>) {
    scripted::call(client, mode, names, &tonic::metadata::MetadataMap::new()).await
}

/// The (field, description) pairs of the status's BadRequest, read with the runtime's
/// decoder; tonic-types' own decoder must read the same.
fn violations_of(status: &Status) -> Vec<(String, String)> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let details = Details::of(status).unwrap();
    let bad: BadRequest = details.get().expect("a BadRequest detail").unwrap();
    let standard = status
        .get_details_bad_request()
        .expect("tonic-types reads it");
    assert_eq!(standard.field_violations.len(), bad.field_violations.len());
    bad.field_violations
        .into_iter()
        .map(|v| (v.field, v.description))
        .collect()
}

fn name_violations(descriptions: &[&str]) -> Vec<(String, String)> {
    descriptions
        .iter()
        .map(|d| ("name".to_owned(), (*d).to_owned()))
        .collect()
}

/// What a valid call in `mode` answers when the names are `a`, `b` (or `a` alone).
fn valid_replies(mode: StreamingKind) -> Vec<String> {
    match mode {
        StreamingKind::Unary => vec!["hello a".into()],
        StreamingKind::ServerStreaming => vec!["hello a".into(); 3],
        StreamingKind::ClientStreaming => vec!["hello b".into()],
        StreamingKind::BidiStreaming => vec!["hello a".into(), "hello b".into()],
    }
}

#[tokio::test]
async fn valid_requests_go_through_in_every_mode() {
    let (addr, runs) = start(true).await;
    let mut client = plain_client(addr).await;
    for mode in MODES {
        let (replies, end) = call(&mut client, mode, &["a", "b"]).await;
        assert!(end.is_ok(), "{mode:?}: {end:?}");
        assert_eq!(replies, valid_replies(mode), "{mode:?}");
    }
    // 100 two-byte characters: 200 bytes, but within the limit.
    let long = "é".repeat(100);
    let (replies, end) = call(&mut client, StreamingKind::Unary, &[&long]).await;
    assert!(end.is_ok(), "{end:?}");
    assert_eq!(replies, [format!("hello {long}")]);
    assert_eq!(runs.started.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn an_invalid_single_request_never_reaches_the_handler() {
    let (addr, runs) = start(true).await;
    let mut client = plain_client(addr).await;
    let too_long = "é".repeat(101);
    let both = format!("{too_long} ");
    let cases: [(&str, &[&str]); 4] = [
        ("", &[EMPTY]),
        (" a", &[PADDED]),
        (&too_long, &["must be at most 100 characters, not 101"]),
        (&both, &["must be at most 100 characters, not 102", PADDED]),
    ];
    for mode in [StreamingKind::Unary, StreamingKind::ServerStreaming] {
        for (name, expected) in cases {
            let (replies, end) = call(&mut client, mode, &[name]).await;
            let status = end.unwrap_err();
            assert_eq!(
                violations_of(&status),
                name_violations(expected),
                "{mode:?}"
            );
            assert!(
                status.message().starts_with("invalid HelloRequest: name: "),
                "{}",
                status.message()
            );
            assert!(replies.is_empty(), "{mode:?}: {replies:?}");
        }
    }
    assert_eq!(runs.started.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn in_a_request_stream_the_invalid_message_never_reaches_the_handler() {
    let (addr, runs) = start(true).await;
    let mut client = plain_client(addr).await;
    // Had the 101-character name reached the handler, the client-streaming call would have
    // answered `hello xxx…` and the bidi call a third reply.
    let too_long = "x".repeat(101);
    for mode in [StreamingKind::ClientStreaming, StreamingKind::BidiStreaming] {
        let (replies, end) = call(&mut client, mode, &["a", "b", &too_long]).await;
        let status = end.unwrap_err();
        assert_eq!(
            violations_of(&status),
            name_violations(&["must be at most 100 characters, not 101"]),
            "{mode:?}"
        );
        match mode {
            StreamingKind::BidiStreaming => assert_eq!(replies, ["hello a", "hello b"]),
            _ => assert!(replies.is_empty(), "{replies:?}"),
        }

        // An invalid message in the middle: nothing after it reaches the handler either.
        let (replies, end) = call(&mut client, mode, &["a", "", "b"]).await;
        assert_eq!(violations_of(&end.unwrap_err()), name_violations(&[EMPTY]));
        match mode {
            StreamingKind::BidiStreaming => assert_eq!(replies, ["hello a"]),
            _ => assert!(replies.is_empty(), "{replies:?}"),
        }
    }
    // Each handler started, and none ran to its end.
    assert_eq!(runs.started.load(Ordering::SeqCst), 4);
    assert_eq!(runs.finished.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_validating_client_never_sends_an_invalid_request() {
    // The server does not validate: whatever reached it would be answered.
    let (addr, runs) = start(false).await;
    let mut client = validating_client(addr).await;
    for mode in MODES {
        let (replies, end) = call(&mut client, mode, &["a", "b"]).await;
        assert!(end.is_ok(), "{mode:?}: {end:?}");
        assert_eq!(replies, valid_replies(mode), "{mode:?}");
    }
    let started = runs.started.load(Ordering::SeqCst);
    assert_eq!(started, 4);

    for mode in [StreamingKind::Unary, StreamingKind::ServerStreaming] {
        let (replies, end) = call(&mut client, mode, &[" padded "]).await;
        assert_eq!(violations_of(&end.unwrap_err()), name_violations(&[PADDED]));
        assert!(replies.is_empty());
    }
    assert_eq!(
        runs.started.load(Ordering::SeqCst),
        started,
        "nothing was sent"
    );

    for mode in [StreamingKind::ClientStreaming, StreamingKind::BidiStreaming] {
        let (_, end) = call(&mut client, mode, &["a", ""]).await;
        assert_eq!(violations_of(&end.unwrap_err()), name_violations(&[EMPTY]));
    }
    // Neither stream reached its end on the server: the client ended them at the invalid
    // request.
    assert_eq!(runs.finished.load(Ordering::SeqCst), 4);
}
