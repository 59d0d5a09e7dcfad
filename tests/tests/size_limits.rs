//! Message size limits through the golden Greeter, all four modes, on both sides and in both
//! directions: a message over a limit ends the call RESOURCE_EXHAUSTED (gRPC's code, as grpc-go
//! and grpc-java answer), with tonic's text that names both sizes; the end hooks see that code;
//! a handler's own OUT_OF_RANGE passes unchanged.

use std::sync::{Arc, Mutex};

use greeter_runtime::interceptor::{CallContext, CallInterceptor};
use greeter_runtime::{Interceptors, StreamingKind};
use greeter_tests::greeter::greeter_client::GreeterClient;
use greeter_tests::greeter::greeter_server::GreeterServer;
use greeter_tests::net;
use greeter_tests::scripted::{self, Scripted};
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, Server};
use tonic::{Code, Status};

const MODES: [StreamingKind; 4] = [
    StreamingKind::Unary,
    StreamingKind::ServerStreaming,
    StreamingKind::ClientStreaming,
    StreamingKind::BidiStreaming,
];

/// The limit every test sets, on one side and in one direction.
const LIMIT: usize = 1024;

/// Where a limit is set: which side, and which way its messages go.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Limit {
    /// The server's `max_decoding_message_size`: requests.
    ServerDecoding,
    /// The server's `max_encoding_message_size`: replies.
    ServerEncoding,
    /// The client's `max_decoding_message_size`: replies.
    ClientDecoding,
    /// The client's `max_encoding_message_size`: requests.
    ClientEncoding,
}

impl Limit {
    /// The word of tonic's text: the decoder's or the encoder's.
    fn direction(self) -> &'static str {
        match self {
            Self::ServerDecoding | Self::ClientDecoding => "decoded",
            Self::ServerEncoding | Self::ClientEncoding => "encoded",
        }
    }

    fn on_server(self) -> bool {
        matches!(self, Self::ServerDecoding | Self::ServerEncoding)
    }
}

/// Records the code every end hook sees.
#[derive(Debug, Clone, Default)]
struct Ends(Arc<Mutex<Vec<Code>>>);

impl CallInterceptor for Ends {
    fn on_end(&self, _context: &CallContext, status: &Status) {
        self.0.lock().unwrap().push(status.code());
    }
}

impl Ends {
    fn codes(&self) -> Vec<Code> {
        self.0.lock().unwrap().clone()
    }
}

/// A client of a Scripted server, with `limit` set on its side; both sides run an end hook
/// recorder when `hooked` (the generated code takes another path without interceptors).
async fn connect(limit: Limit, hooked: bool) -> (GreeterClient<Channel>, Ends, Ends) {
    let (server_ends, client_ends) = (Ends::default(), Ends::default());
    let mut server = GreeterServer::new(Scripted::default());
    if hooked {
        server = server.with_interceptors(Interceptors::new().with_call(server_ends.clone()));
    }
    server = match limit {
        Limit::ServerDecoding => server.max_decoding_message_size(LIMIT),
        Limit::ServerEncoding => server.max_encoding_message_size(LIMIT),
        _ => server,
    };
    let addr = net::serve(Server::builder().add_service(server)).await;
    let mut client = GreeterClient::new(net::channel(addr).await);
    if hooked {
        client = client.with_interceptors(Interceptors::new().with_call(client_ends.clone()));
    }
    client = match limit {
        Limit::ClientDecoding => client.max_decoding_message_size(LIMIT),
        Limit::ClientEncoding => client.max_encoding_message_size(LIMIT),
        _ => client,
    };
    (client, server_ends, client_ends)
}

/// A name whose request, and whose reply (`hello <name>`), is over the limit.
fn big() -> String {
    "x".repeat(LIMIT + 100)
}

/// The names to send in `mode` so that the first oversized message comes after a small one
/// where the mode allows: the streamed replies (bidi) and requests (client streaming, bidi)
/// begin with a message that passes.
fn names(mode: StreamingKind, big: &str) -> Vec<&str> {
    match mode.is_client_streaming() {
        true => vec!["small", big],
        false => vec![big],
    }
}

/// Asserts `status` is the size error of `limit`: RESOURCE_EXHAUSTED with tonic's text (which
/// the runtime's unit tests pin), naming the limit.
fn assert_size_error(status: &Status, limit: Limit, context: &str) {
    assert_eq!(
        status.code(),
        Code::ResourceExhausted,
        "{context}: {status:?}"
    );
    let message = status.message();
    let text = format!(
        "Error, {} message length too large: found ",
        limit.direction()
    );
    assert!(message.starts_with(&text), "{context}: {status:?}");
    let limit_text = format!("the limit is: {LIMIT} bytes");
    assert!(message.ends_with(&limit_text), "{context}: {status:?}");
}

/// Every mode, with and without interceptors: the call ends RESOURCE_EXHAUSTED for the caller
/// and in the end hooks of the side whose limit it was.
async fn check(limit: Limit) {
    let big = big();
    for hooked in [false, true] {
        for mode in MODES {
            let context = format!("{limit:?}, {mode:?}, hooked: {hooked}");
            let (mut client, server_ends, client_ends) = connect(limit, hooked).await;
            let names = names(mode, &big);
            let (replies, ended) =
                scripted::call(&mut client, mode, &names, &MetadataMap::new()).await;
            assert_size_error(&ended.expect_err(&context), limit, &context);
            // No oversized reply ever arrives; a bidi call that fails on a message a side
            // decodes has answered the small first request before.
            let decoding = matches!(limit, Limit::ServerDecoding | Limit::ClientDecoding);
            match (mode, decoding) {
                (StreamingKind::BidiStreaming, true) => {
                    assert_eq!(replies, ["hello small"], "{context}")
                }
                _ => assert!(replies.iter().all(|r| r == "hello small"), "{context}"),
            }
            if hooked {
                let ends = match limit.on_server() {
                    true => server_ends.codes(),
                    false => client_ends.codes(),
                };
                assert_eq!(ends, [Code::ResourceExhausted], "{context}");
            }
        }
    }
}

#[tokio::test]
async fn a_request_over_the_servers_limit_ends_the_call_resource_exhausted() {
    check(Limit::ServerDecoding).await;
}

#[tokio::test]
async fn a_reply_over_the_servers_limit_ends_the_call_resource_exhausted() {
    check(Limit::ServerEncoding).await;
}

#[tokio::test]
async fn a_reply_over_the_clients_limit_ends_the_call_resource_exhausted() {
    check(Limit::ClientDecoding).await;
}

#[tokio::test]
async fn a_request_over_the_clients_limit_ends_the_call_resource_exhausted() {
    check(Limit::ClientEncoding).await;
}

/// A handler's own OUT_OF_RANGE is no size error: it reaches the caller, and the end hooks of
/// both sides, as the handler said it, whatever limits are set.
#[tokio::test]
async fn a_handlers_own_out_of_range_passes_unchanged() {
    let limits = [
        Limit::ServerDecoding,
        Limit::ServerEncoding,
        Limit::ClientDecoding,
        Limit::ClientEncoding,
    ];
    for limit in limits {
        for hooked in [false, true] {
            for mode in MODES {
                let context = format!("{limit:?}, {mode:?}, hooked: {hooked}");
                let (mut client, server_ends, client_ends) = connect(limit, hooked).await;
                let fail = format!("fail:{}", Code::OutOfRange as i32);
                let (replies, ended) =
                    scripted::call(&mut client, mode, &[&fail], &MetadataMap::new()).await;
                assert!(replies.is_empty(), "{context}");
                let status = ended.expect_err(&context);
                assert_eq!(status.code(), Code::OutOfRange, "{context}: {status:?}");
                assert_eq!(status.message(), "scripted failure", "{context}");
                if hooked {
                    assert_eq!(server_ends.codes(), [Code::OutOfRange], "{context}");
                    assert_eq!(client_ends.codes(), [Code::OutOfRange], "{context}");
                }
            }
        }
    }
}
