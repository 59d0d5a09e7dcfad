//! The `greeter-client` binary against servers that misbehave: one that accepts connections and
//! never answers, a Greeter that sleeps, one whose streams send a reply and then hold the call
//! open. The client ends DEADLINE_EXCEEDED within about `--timeout`, and prints each stream reply
//! the moment it arrives. Every wait is bounded; a child still running is killed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use greeter_examples::pb::greeter_server::{Greeter, GreeterServer};
use greeter_examples::pb::{HelloRequest, HelloResponse};
use greeter_examples::server::ResponseStream;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status, Streaming};

const CLIENT: &str = env!("CARGO_BIN_EXE_greeter-client");
/// How long anything that should happen promptly may take before the test fails.
const PROMPT: Duration = Duration::from_secs(5);

/// A Greeter that stalls in every way the tests need.
#[derive(Default)]
struct Stalling {
    /// The `grpc-timeout` of each SayHello call, as received.
    timeouts: Arc<Mutex<Vec<Option<String>>>>,
    /// Whether BidiHello echoes each line (or never answers).
    bidi_echoes: bool,
}

impl Greeter for Stalling {
    /// Never answers (the client's deadline ends the call).
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloResponse>, Status> {
        let timeout = request.metadata().get("grpc-timeout");
        let timeout = timeout.and_then(|value| value.to_str().ok().map(str::to_owned));
        self.timeouts.lock().unwrap().push(timeout);
        std::future::pending().await
    }

    type LotsOfRepliesStream = ResponseStream;

    /// One reply, `first <name>`, then the stream stays open.
    async fn lots_of_replies(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<ResponseStream>, Status> {
        let reply = HelloResponse {
            reply: format!("first {}", request.into_inner().name),
        };
        let replies = tokio_stream::iter([Ok(reply)]).chain(tokio_stream::pending());
        Ok(Response::new(Box::pin(replies)))
    }

    async fn lots_of_greetings(
        &self,
        _request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<HelloResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    type BidiHelloStream = ResponseStream;

    /// Echoes each line, or never answers.
    async fn bidi_hello(
        &self,
        request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<ResponseStream>, Status> {
        if !self.bidi_echoes {
            return Ok(Response::new(Box::pin(tokio_stream::pending())));
        }
        let replies = request.into_inner().map(|request| {
            request.map(|request| HelloResponse {
                reply: request.name,
            })
        });
        Ok(Response::new(Box::pin(replies)))
    }
}

/// A server on its own runtime, so that the tests can block on the client process.
struct TestServer {
    url: String,
    runtime: Option<tokio::runtime::Runtime>,
}

impl TestServer {
    fn start(greeter: Stalling) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let serving = tonic::transport::Server::builder()
            .add_service(GreeterServer::new(greeter))
            .serve_with_incoming(TcpListenerStream::new(listener));
        runtime.spawn(serving);
        Self {
            url: format!("http://{addr}"),
            runtime: Some(runtime),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A TCP listener that accepts connections and never reads or writes a byte.
struct Silent {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Silent {
    fn start() -> Self {
        let listener = StdTcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut held = Vec::new();
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((connection, _)) => held.push(connection),
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Self {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A running `greeter-client`: its stdout read line by line as it comes, killed if the test
/// ends before it does.
struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    stderr: Option<JoinHandle<String>>,
    started: Instant,
}

impl Client {
    fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(CLIENT)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("greeter-client starts");
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Self {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr: Some(stderr),
            started: Instant::now(),
        }
    }

    /// The next line of stdout, waiting at most `within`.
    fn next_line(&self, within: Duration) -> Option<String> {
        self.lines.recv_timeout(within).ok()
    }

    fn write_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits at most `within` for the client to exit: its status, stderr, and when it exited
    /// since it started.
    fn finish(&mut self, within: Duration) -> (ExitStatus, String, Duration) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "greeter-client still running after {within:?}"
            );
            thread::sleep(Duration::from_millis(10));
        };
        let elapsed = self.started.elapsed();
        let stderr = self.stderr.take().unwrap().join().unwrap();
        (status, stderr, elapsed)
    }

    /// Every stdout line still to come (the process has exited).
    fn rest(&self) -> Vec<String> {
        std::iter::from_fn(|| self.next_line(Duration::from_millis(500))).collect()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Asserts the client failed with DEADLINE_EXCEEDED, no sooner than `timeout` after it started
/// and within `PROMPT` of it.
fn assert_deadline_exceeded(client: &mut Client, timeout: Duration) -> String {
    let (status, stderr, elapsed) = client.finish(timeout + PROMPT);
    assert!(!status.success(), "exit {status}, stderr: {stderr}");
    assert_eq!(status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains("error: DEADLINE_EXCEEDED"),
        "stderr: {stderr}"
    );
    assert!(
        elapsed >= timeout,
        "gave up after {elapsed:?}, before {timeout:?}"
    );
    stderr
}

#[test]
fn a_server_that_accepts_and_never_answers_ends_in_deadline_exceeded() {
    let silent = Silent::start();
    let addr = format!("http://{}", silent.addr);
    let mut client = Client::spawn(&["--addr", &addr, "--timeout", "500ms", "say-hello"]);
    let stderr = assert_deadline_exceeded(&mut client, Duration::from_millis(500));
    assert!(
        stderr.contains("--timeout 500ms"),
        "a hint names the flag: {stderr}"
    );
}

#[test]
fn the_default_timeout_is_five_seconds() {
    let silent = Silent::start();
    let addr = format!("http://{}", silent.addr);
    let mut client = Client::spawn(&["--addr", &addr, "lots-of-replies"]);
    assert_deadline_exceeded(&mut client, Duration::from_secs(5));
}

#[test]
fn a_sleeping_handler_ends_in_deadline_exceeded_and_gets_the_timeout() {
    let greeter = Stalling::default();
    let timeouts = Arc::clone(&greeter.timeouts);
    let server = TestServer::start(greeter);
    let mut client = Client::spawn(&["--addr", &server.url, "--timeout", "700ms", "say-hello"]);
    assert_deadline_exceeded(&mut client, Duration::from_millis(700));
    let timeouts = timeouts.lock().unwrap();
    assert_eq!(timeouts.len(), 1, "{timeouts:?}");
    let sent = timeouts[0]
        .as_deref()
        .expect("the call carried grpc-timeout");
    let left = grpc_timeout(sent).expect(sent);
    assert!(
        left <= Duration::from_millis(700) && left > Duration::from_millis(100),
        "{sent}"
    );
}

/// A `grpc-timeout` value: digits, then a unit (`H`, `M`, `S`, `m`, `u`, `n`).
fn grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[test]
fn a_stream_reply_is_printed_before_the_stream_ends() {
    let server = TestServer::start(Stalling::default());
    let mut client = Client::spawn(&[
        "--addr",
        &server.url,
        "--name",
        "Ann",
        "--timeout",
        "60s",
        "lots-of-replies",
    ]);
    let first = client.next_line(PROMPT);
    assert_eq!(first.as_deref(), Some("reply: first Ann"));
    assert!(client.is_running(), "the stream is still open");
}

#[test]
fn a_stream_that_outlives_the_timeout_ends_in_deadline_exceeded_after_its_replies() {
    let server = TestServer::start(Stalling::default());
    let mut client = Client::spawn(&[
        "--addr",
        &server.url,
        "--name",
        "Bo",
        "--timeout",
        "1s",
        "lots-of-replies",
    ]);
    assert_deadline_exceeded(&mut client, Duration::from_secs(1));
    assert_eq!(client.rest(), ["reply: first Bo"]);
}

#[test]
fn bidi_prints_each_answer_as_it_comes_and_waits_for_the_person_typing() {
    let server = TestServer::start(Stalling {
        bidi_echoes: true,
        ..Stalling::default()
    });
    let mut client = Client::spawn(&["--addr", &server.url, "--timeout", "300ms", "bidi"]);
    client.write_line("one");
    assert_eq!(client.next_line(PROMPT).as_deref(), Some("AI：one"));
    // Longer than --timeout without typing: the chat goes on.
    thread::sleep(Duration::from_millis(900));
    assert!(client.is_running(), "the chat ended while nobody typed");
    client.write_line("two");
    assert_eq!(client.next_line(PROMPT).as_deref(), Some("AI：two"));
    client.write_line("QUIT");
    let (status, stderr, _) = client.finish(PROMPT);
    assert!(status.success(), "exit {status}, stderr: {stderr}");
}

#[test]
fn bidi_ends_in_deadline_exceeded_when_a_line_goes_unanswered() {
    let server = TestServer::start(Stalling::default());
    let mut client = Client::spawn(&["--addr", &server.url, "--timeout", "400ms", "bidi"]);
    client.write_line("hello?");
    let stderr = assert_deadline_exceeded(&mut client, Duration::from_millis(400));
    assert!(
        stderr.contains("no answer within 400ms to a line sent"),
        "{stderr}"
    );
}

#[test]
fn bidi_ends_in_deadline_exceeded_when_the_call_does_not_end_after_the_input() {
    let server = TestServer::start(Stalling::default());
    let mut client = Client::spawn(&["--addr", &server.url, "--timeout", "400ms", "bidi"]);
    client.stdin = None;
    let stderr = assert_deadline_exceeded(&mut client, Duration::from_millis(400));
    assert!(
        stderr.contains("did not end within 400ms of the end of input"),
        "{stderr}"
    );
}

#[test]
fn a_malformed_timeout_is_a_usage_error() {
    for bad in ["soon", "5", "-1s", "1.5.s"] {
        let mut client = Client::spawn(&[&format!("--timeout={bad}"), "say-hello"]);
        let (status, stderr, _) = client.finish(PROMPT);
        assert_eq!(status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("invalid duration"), "{bad}: {stderr}");
    }
}
