//! A foreign peer: grpcio (Python, the C-core stack) calls the golden Greeter in all four modes
//! and must see the trailers a handler and a call interceptor attach on success, with the
//! response headers apart from them.
//!
//! It also calls the stress set's `Typed` service (`tests/python/typed_client.py`), sending a
//! value for every declared request key of every type (text, `-bin`, repeated), and must see
//! each echoed back in the typed form our codecs write, once among the response headers and once
//! among the trailers, never crossed, in all four modes; a malformed or missing declared key must
//! come back INVALID_ARGUMENT naming it, without the handler running.
//!
//! The Python peer runs in the venv of `tests/python/venv.sh` (pinned grpcio), made once under
//! the cargo target dir and reused. `python3` with `venv` and `pip` is required; without it the
//! test fails rather than skips.

use greeter_tests::net;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::{Command, Output};

use greeter_runtime::interceptor::{Call, CallInterceptor, InterceptFuture, Next};
use greeter_runtime::metadata::ResponseExt;
use greeter_tests::greeter::greeter_server::{Greeter, GreeterServer};
use greeter_tests::greeter::{HelloRequest, HelloResponse};
use greeter_tests::stress_set::stress::api::v1::typed_server::TypedServer;
use greeter_tests::typed::Echo;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::Server;
use tonic::{Request, Response, Status, Streaming};

const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/trailers_client.py");

const TYPED_CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/typed_client.py");

type ReplyStream = Pin<Box<dyn Stream<Item = Result<HelloResponse, Status>> + Send>>;

/// Every handler sets a response header and a trailer, both naming the handler.
struct Stamped;

fn stamp<T>(mut response: Response<T>, handler: &'static str) -> Response<T> {
    response
        .metadata_mut()
        .insert("x-handler-header", handler.parse().unwrap());
    response
        .trailers_mut()
        .lock()
        .insert("x-handler", handler.parse().unwrap());
    response
}

impl Greeter for Stamped {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloResponse>, Status> {
        let reply = format!("hello {}", request.into_inner().name);
        Ok(stamp(Response::new(HelloResponse { reply }), "say_hello"))
    }

    type LotsOfRepliesStream = ReplyStream;

    async fn lots_of_replies(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<ReplyStream>, Status> {
        let count: usize = request.into_inner().name.parse().unwrap_or(1);
        let replies = (0..count).map(|i| {
            Ok(HelloResponse {
                reply: format!("reply {i}"),
            })
        });
        let stream = Box::pin(tokio_stream::iter(replies)) as ReplyStream;
        Ok(stamp(Response::new(stream), "lots_of_replies"))
    }

    async fn lots_of_greetings(
        &self,
        request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<HelloResponse>, Status> {
        let mut stream = request.into_inner();
        let mut names = Vec::new();
        while let Some(request) = stream.next().await {
            names.push(request?.name);
        }
        let reply = format!("hello {}", names.join(" "));
        Ok(stamp(
            Response::new(HelloResponse { reply }),
            "lots_of_greetings",
        ))
    }

    type BidiHelloStream = ReplyStream;

    async fn bidi_hello(
        &self,
        request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<ReplyStream>, Status> {
        let replies = request.into_inner().map(|request| {
            request.map(|r| HelloResponse {
                reply: format!("hi {}", r.name),
            })
        });
        let stream = Box::pin(replies) as ReplyStream;
        Ok(stamp(Response::new(stream), "bidi_hello"))
    }
}

/// Puts the call's kind into the trailers (`x-kind`) and the headers (`x-kind-header`).
struct StampKind;

impl CallInterceptor for StampKind {
    fn call<'a>(&'a self, call: &'a mut Call<'_>, next: Next<'a>) -> InterceptFuture<'a> {
        Box::pin(async move {
            let kind = call.method().kind().as_str();
            call.context()
                .trailers()
                .insert("x-kind", kind.parse().unwrap());
            call.context()
                .headers()
                .insert("x-kind-header", kind.parse().unwrap());
            next.run(call).await
        })
    }
}

fn run(command: &mut Command, what: &str) -> Output {
    let output = command.output().unwrap_or_else(|error| {
        panic!(
            "{what}: cannot run {command:?}: {error} (this test needs python3 with venv and pip)"
        )
    });
    assert!(
        output.status.success(),
        "{what}: {command:?} failed ({})\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    output
}

/// The JSON the Python client prints: just what `json.dumps` makes of strings, lists and
/// objects.
#[derive(Debug, PartialEq)]
enum Json {
    String(String),
    Array(Vec<Json>),
    Object(BTreeMap<String, Json>),
}

impl Json {
    fn parse(text: &str) -> Json {
        let mut parser = JsonParser {
            chars: text.chars().collect(),
            at: 0,
        };
        let value = parser.value();
        parser.space();
        assert_eq!(parser.at, parser.chars.len(), "trailing input in {text}");
        value
    }

    fn get(&self, key: &str) -> &Json {
        match self {
            Json::Object(map) => map
                .get(key)
                .unwrap_or_else(|| panic!("no {key:?} in {self:?}")),
            _ => panic!("not an object: {self:?}"),
        }
    }

    fn str(&self) -> &str {
        match self {
            Json::String(s) => s,
            _ => panic!("not a string: {self:?}"),
        }
    }

    fn strings(&self) -> Vec<&str> {
        match self {
            Json::Array(items) => items.iter().map(Json::str).collect(),
            _ => panic!("not an array: {self:?}"),
        }
    }

    /// A list of `[key, value]` pairs, as the typed client prints metadata.
    fn pairs(&self) -> Vec<(&str, &str)> {
        match self {
            Json::Array(items) => items
                .iter()
                .map(|pair| match pair.strings()[..] {
                    [key, value] => (key, value),
                    _ => panic!("not a [key, value] pair: {pair:?}"),
                })
                .collect(),
            _ => panic!("not an array: {self:?}"),
        }
    }

    fn string_map(&self) -> BTreeMap<&str, &str> {
        match self {
            Json::Object(map) => map.iter().map(|(k, v)| (k.as_str(), v.str())).collect(),
            _ => panic!("not an object: {self:?}"),
        }
    }
}

struct JsonParser {
    chars: Vec<char>,
    at: usize,
}

impl JsonParser {
    fn space(&mut self) {
        while self.chars.get(self.at).is_some_and(|c| c.is_whitespace()) {
            self.at += 1;
        }
    }

    fn next(&mut self) -> char {
        let c = *self.chars.get(self.at).expect("unexpected end of JSON");
        self.at += 1;
        c
    }

    fn expect(&mut self, want: char) {
        self.space();
        let got = self.next();
        assert_eq!(got, want, "JSON: expected {want:?} at {}", self.at - 1);
    }

    /// After an opening bracket: true (and consumes it) if the closing one comes next.
    fn closes(&mut self, close: char) -> bool {
        self.space();
        let closes = self.chars.get(self.at) == Some(&close);
        if closes {
            self.at += 1;
        }
        closes
    }

    fn value(&mut self) -> Json {
        self.space();
        match self.chars.get(self.at) {
            Some('"') => Json::String(self.string()),
            Some('[') => {
                self.at += 1;
                let mut items = Vec::new();
                if !self.closes(']') {
                    loop {
                        items.push(self.value());
                        if self.closes(']') {
                            break;
                        }
                        self.expect(',');
                    }
                }
                Json::Array(items)
            }
            Some('{') => {
                self.at += 1;
                let mut map = BTreeMap::new();
                if !self.closes('}') {
                    loop {
                        self.space();
                        let key = self.string();
                        self.expect(':');
                        let value = self.value();
                        assert!(map.insert(key, value).is_none(), "JSON: duplicate key");
                        if self.closes('}') {
                            break;
                        }
                        self.expect(',');
                    }
                }
                Json::Object(map)
            }
            other => panic!("JSON: unexpected {other:?} at {}", self.at),
        }
    }

    fn hex4(&mut self) -> u32 {
        let digits: String = (0..4).map(|_| self.next()).collect();
        u32::from_str_radix(&digits, 16).expect("JSON: bad \\u escape")
    }

    fn string(&mut self) -> String {
        self.expect('"');
        let mut out = String::new();
        loop {
            match self.next() {
                '"' => return out,
                '\\' => match self.next() {
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    '/' => out.push('/'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'u' => {
                        let mut code = self.hex4();
                        if (0xD800..0xDC00).contains(&code) {
                            assert_eq!(
                                (self.next(), self.next()),
                                ('\\', 'u'),
                                "JSON: lone surrogate"
                            );
                            let low = self.hex4();
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                        }
                        out.push(char::from_u32(code).expect("JSON: bad code point"));
                    }
                    other => panic!("JSON: bad escape \\{other}"),
                },
                c => out.push(c),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn trailers_on_success_reach_a_grpcio_client_in_all_four_modes() {
    let python = tokio::task::spawn_blocking(greeter_tests::python::interpreter)
        .await
        .unwrap();
    let addr = serve(GreeterServer::new(Stamped).with_call_interceptor(StampKind)).await;

    let output = tokio::task::spawn_blocking(move || {
        run(
            Command::new(&python).arg(CLIENT).arg(addr.to_string()),
            "the grpcio client",
        )
    })
    .await
    .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    eprintln!("python_peer: grpcio saw\n{stdout}");

    let records: Vec<Json> = stdout.lines().map(Json::parse).collect();
    let want = [
        ("unary", "say_hello", vec!["hello ann"]),
        (
            "server_streaming",
            "lots_of_replies",
            vec!["reply 0", "reply 1", "reply 2"],
        ),
        ("client_streaming", "lots_of_greetings", vec!["hello a b c"]),
        ("bidi_streaming", "bidi_hello", vec!["hi x", "hi y"]),
    ];
    assert_eq!(records.len(), want.len(), "one line per mode:\n{stdout}");

    for (record, (kind, handler, replies)) in records.iter().zip(want) {
        assert_eq!(record.get("mode").str(), kind);
        assert_eq!(record.get("code").str(), "OK", "{kind}");
        assert_eq!(record.get("replies").strings(), replies, "{kind}");

        // The trailers are exactly the two set on success; grpcio keeps grpc-status to itself.
        let trailers = record.get("trailers").string_map();
        assert_eq!(
            trailers,
            BTreeMap::from([("x-handler", handler), ("x-kind", kind)]),
            "{kind}: trailers"
        );

        // The headers hold both headers and neither trailer.
        let headers = record.get("headers").string_map();
        assert_eq!(
            headers.get("x-handler-header"),
            Some(&handler),
            "{kind}: {headers:?}"
        );
        assert_eq!(
            headers.get("x-kind-header"),
            Some(&kind),
            "{kind}: {headers:?}"
        );
        for trailer in ["x-kind", "x-handler", "grpc-status", "grpc-message"] {
            assert!(
                !headers.contains_key(trailer),
                "{kind}: {trailer} in headers {headers:?}"
            );
        }
    }
}

async fn serve(server: GreeterServer<Stamped>) -> SocketAddr {
    net::serve(Server::builder().add_service(server)).await
}

/// The value sent for every declared request key of `Typed`, as the server echoes it under
/// `{prefix}{name}` and grpcio hands it over: text re-encoded by our codecs, binary values
/// (`-bin`) hex-encoded by the client. Ordered by key as [`with_prefix`] orders them. `r-tag` was
/// sent twice; `100%` is no valid escape, so it is read as is and sent back with its `%` escaped.
fn echoed(prefix: &str) -> Vec<(String, String)> {
    let values = [
        ("string", "plain text"),
        ("int64", "-42"),
        ("uint64", "18446744073709551615"),
        ("bool", "true"),
        ("double", "2.5"),
        ("bytes-bin", "00fffe"),
        ("duration", "1.500s"),
        ("timestamp", "2026-11-23T10:00:00Z"),
        ("enum", "ORDER_DESCENDING"),
        ("message-bin", "12020805"),
        ("tag", "plain tag"),
        ("tag", "100%25"),
    ];
    let mut pairs: Vec<(String, String)> = values
        .iter()
        .map(|(name, value)| (format!("{prefix}{name}"), value.to_string()))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
}

/// The pairs whose key starts with `prefix`, ordered by key; a key's values keep their order.
fn with_prefix(pairs: &[(&str, &str)], prefix: &str) -> Vec<(String, String)> {
    let mut picked: Vec<(String, String)> = pairs
        .iter()
        .filter(|(key, _)| key.starts_with(prefix))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    picked.sort_by(|a, b| a.0.cmp(&b.0));
    picked
}

/// What one call of the typed client must end in.
enum Outcome {
    /// OK with these replies; `echoes` when the method echoes the request metadata.
    Ok {
        replies: Vec<&'static str>,
        echoes: bool,
    },
    /// Refused before the handler with INVALID_ARGUMENT and this message.
    Refused(&'static str),
}

#[tokio::test(flavor = "multi_thread")]
async fn typed_metadata_reaches_a_grpcio_client_apart_in_all_four_modes() {
    let python = tokio::task::spawn_blocking(greeter_tests::python::interpreter)
        .await
        .unwrap();
    let echo = Echo::default();
    let addr = net::serve(Server::builder().add_service(TypedServer::new(echo.clone()))).await;

    let output = tokio::task::spawn_blocking(move || {
        run(
            Command::new(&python)
                .arg(TYPED_CLIENT)
                .arg(addr.to_string()),
            "the grpcio typed client",
        )
    })
    .await
    .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    eprintln!("python_peer: grpcio saw\n{stdout}");

    const MALFORMED: &str =
        "invalid metadata `r-int64`: expected int64, got \"abc\" (invalid digit found in string)";
    let echoed_ok = |replies: Vec<&'static str>| Outcome::Ok {
        replies,
        echoes: true,
    };
    let want = [
        ("unary", "valid", echoed_ok(vec!["u"])),
        ("server_streaming", "valid", echoed_ok(vec!["s 1", "s 2"])),
        ("client_streaming", "valid", echoed_ok(vec!["a b c"])),
        ("bidi_streaming", "valid", echoed_ok(vec!["re x", "re y"])),
        ("unary", "malformed_int64", Outcome::Refused(MALFORMED)),
        (
            "server_streaming",
            "malformed_int64",
            Outcome::Refused(MALFORMED),
        ),
        (
            "client_streaming",
            "malformed_int64",
            Outcome::Refused(MALFORMED),
        ),
        (
            "bidi_streaming",
            "malformed_int64",
            Outcome::Refused(MALFORMED),
        ),
        (
            "unary",
            "missing_string",
            Outcome::Refused("missing metadata `r-string`: expected string"),
        ),
        (
            "strict",
            "missing_int64",
            Outcome::Refused("missing metadata `r-int64`: expected int64"),
        ),
        (
            "strict",
            "valid",
            Outcome::Ok {
                replies: vec!["7"],
                echoes: false,
            },
        ),
    ];
    let records: Vec<Json> = stdout.lines().map(Json::parse).collect();
    assert_eq!(records.len(), want.len(), "one line per call:\n{stdout}");

    let mut passed = 0;
    for (record, (mode, case, outcome)) in records.iter().zip(&want) {
        let call = format!("{mode} {case}");
        assert_eq!(record.get("mode").str(), *mode, "{call}");
        assert_eq!(record.get("case").str(), *case, "{call}");
        let headers = record.get("headers").pairs();
        let trailers = record.get("trailers").pairs();

        // Request metadata is never sent back as is, and grpcio keeps the status to itself.
        for key in ["grpc-status", "grpc-message"] {
            assert!(
                !headers.iter().chain(&trailers).any(|(k, _)| *k == key),
                "{call}: {key} in {record:?}"
            );
        }
        assert_eq!(with_prefix(&headers, "r-"), [], "{call}: headers");
        assert_eq!(with_prefix(&trailers, "r-"), [], "{call}: trailers");
        // Headers never carry a trailer, nor trailers a header.
        assert_eq!(with_prefix(&headers, "t-"), [], "{call}: headers");
        assert_eq!(with_prefix(&trailers, "h-"), [], "{call}: trailers");

        match outcome {
            Outcome::Ok { replies, echoes } => {
                passed += 1;
                assert_eq!(record.get("code").str(), "OK", "{call}: {record:?}");
                assert_eq!(record.get("details").str(), "", "{call}");
                assert_eq!(record.get("replies").strings(), *replies, "{call}");
                let (want_headers, want_trailers) = if *echoes {
                    (echoed("h-"), echoed("t-"))
                } else {
                    (Vec::new(), Vec::new())
                };
                assert_eq!(with_prefix(&headers, "h-"), want_headers, "{call}: headers");
                assert_eq!(
                    with_prefix(&trailers, "t-"),
                    want_trailers,
                    "{call}: trailers"
                );
            }
            Outcome::Refused(details) => {
                assert_eq!(
                    record.get("code").str(),
                    "INVALID_ARGUMENT",
                    "{call}: {record:?}"
                );
                assert_eq!(record.get("details").str(), *details, "{call}");
                assert_eq!(
                    record.get("replies").strings(),
                    Vec::<&str>::new(),
                    "{call}"
                );
                // No handler ran, so nothing was echoed.
                assert_eq!(with_prefix(&headers, "h-"), [], "{call}: headers");
                assert_eq!(with_prefix(&trailers, "t-"), [], "{call}: trailers");
            }
        }
    }
    // Only the calls that passed the contract's check reached a handler.
    assert_eq!(echo.handled(), passed, "calls that reached a handler");
}
