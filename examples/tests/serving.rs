//! The example server's serving defaults and settings, seen from the wire: the stream limit in
//! its HTTP/2 SETTINGS, message size limits, keepalive PINGs that drop a dead peer, the maximum
//! call duration, and TLS with certificates made for each run (through the library and through
//! the `greeter-server` and `greeter-client` binaries). Every wait is bounded.

use std::future::poll_fn;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use greeter_examples::client::{self, ClientConfig};
use greeter_examples::pb::HelloRequest;
use greeter_examples::server::{self, ServerConfig, Serving};
use prost::Message;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::time::timeout;
use tonic::Code;

/// How long anything that should happen promptly may take before the test fails.
const PROMPT: Duration = Duration::from_secs(5);
const MIB: usize = 1024 * 1024;

/// A running example server; dropping it shuts the server down.
struct TestServer {
    addr: SocketAddr,
    _shutdown: oneshot::Sender<()>,
}

async fn start(config: ServerConfig) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (shutdown, stopped) = oneshot::channel::<()>();
    let config = ServerConfig {
        addr,
        quota: 0,
        ..config
    };
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        server::serve_with_listener(config, listener, shutdown)
            .await
            .expect("server runs");
    });
    TestServer {
        addr,
        _shutdown: shutdown,
    }
}

fn serving(serving: Serving) -> ServerConfig {
    ServerConfig {
        serving,
        ..ServerConfig::default()
    }
}

async fn connect(server: &TestServer) -> client::GreeterClient {
    let config = ClientConfig {
        addr: format!("http://{}", server.addr),
        ..ClientConfig::default()
    };
    client::connect(&config).await.expect("connects")
}

/// The stream limit the server advertises in its SETTINGS, read by a raw HTTP/2 client.
async fn advertised_stream_limit(server: &TestServer) -> usize {
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let (_send, mut connection) = h2::client::handshake(tcp).await.unwrap();
    let limit = poll_fn(|cx| {
        if let Poll::Ready(ended) = Pin::new(&mut connection).poll(cx) {
            panic!("the connection ended before the server's SETTINGS: {ended:?}");
        }
        // usize::MAX until the server's SETTINGS arrive.
        match connection.max_concurrent_send_streams() {
            usize::MAX => Poll::Pending,
            limit => Poll::Ready(limit),
        }
    });
    timeout(PROMPT, limit)
        .await
        .expect("the server advertises a stream limit in its SETTINGS")
}

#[tokio::test]
async fn the_server_advertises_its_stream_limit() {
    let default = start(ServerConfig::default()).await;
    assert_eq!(advertised_stream_limit(&default).await, 100);
    let custom = start(serving(Serving {
        max_concurrent_streams: 7,
        ..Serving::default()
    }))
    .await;
    assert_eq!(advertised_stream_limit(&custom).await, 7);
}

/// Asserts `status` is the size error for `limit`. gRPC's code for it is RESOURCE_EXHAUSTED,
/// but the generated server passes on the OUT_OF_RANGE of tonic's codec; both are accepted
/// until the runtime maps it.
fn assert_size_error(status: &tonic::Status, limit: usize) {
    assert!(
        matches!(status.code(), Code::ResourceExhausted | Code::OutOfRange),
        "{status:?}"
    );
    assert!(
        status
            .message()
            .contains(&format!("limit is: {limit} bytes")),
        "{status:?}"
    );
}

#[tokio::test]
async fn a_request_over_4_mib_fails_and_the_server_keeps_serving() {
    let server = start(ServerConfig::default()).await;
    let mut client = connect(&server).await;
    let huge = "x".repeat(4 * MIB);
    let call = client::say_hello(&mut client, &huge);
    let status = timeout(PROMPT, call).await.unwrap().unwrap_err();
    assert_size_error(&status, 4 * MIB);

    let reply = timeout(PROMPT, client::say_hello(&mut client, "after"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.message, "Hello after");
}

#[tokio::test]
async fn message_size_limits_apply_to_requests_and_replies() {
    let server = start(serving(Serving {
        max_receive_message_size: 1024,
        max_send_message_size: 1024,
        ..Serving::default()
    }))
    .await;
    let mut client = connect(&server).await;

    let status = client::say_hello(&mut client, &"x".repeat(2000))
        .await
        .unwrap_err();
    assert_size_error(&status, 1024);

    // Twenty valid names of 100 characters: each request is small, the one reply is not.
    let names = vec!["n".repeat(100); 20];
    let status = client::lots_of_greetings(&mut client, names)
        .await
        .unwrap_err();
    assert_size_error(&status, 1024);

    let reply = client::lots_of_greetings(&mut client, vec!["small".into()])
        .await
        .unwrap();
    assert_eq!(reply.message, "你好：small");
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_HEADER_LEN: usize = 9;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const ACK: u8 = 1;

/// Reads HTTP/2 frames until the server closes the connection, answering none of them; returns
/// how many PINGs (not acks) came.
async fn read_until_closed(tcp: &mut TcpStream) -> usize {
    let mut buffer = BytesMut::new();
    let mut pings = 0;
    loop {
        while buffer.len() >= FRAME_HEADER_LEN {
            let len = u32::from_be_bytes([0, buffer[0], buffer[1], buffer[2]]) as usize;
            if buffer.len() < FRAME_HEADER_LEN + len {
                break;
            }
            let (kind, flags) = (buffer[3], buffer[4]);
            if kind == PING && flags & ACK == 0 {
                pings += 1;
            }
            let _ = buffer.split_to(FRAME_HEADER_LEN + len);
        }
        match tcp.read_buf(&mut buffer).await {
            Ok(0) | Err(_) => return pings,
            Ok(_) => {}
        }
    }
}

#[tokio::test]
async fn a_peer_that_leaves_keepalive_pings_unanswered_is_disconnected() {
    let (interval, ping_timeout) = (Duration::from_millis(300), Duration::from_millis(300));
    let server = start(serving(Serving {
        keepalive_interval: Some(interval),
        keepalive_timeout: ping_timeout,
        ..Serving::default()
    }))
    .await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    tcp.write_all(PREFACE).await.unwrap();
    // An empty SETTINGS frame, then silence: no SETTINGS ack, no PING ack.
    tcp.write_all(&[0, 0, 0, SETTINGS, 0, 0, 0, 0, 0])
        .await
        .unwrap();
    let pings = timeout(PROMPT, read_until_closed(&mut tcp))
        .await
        .expect("the server closes the connection");
    let elapsed = started.elapsed();
    assert!(pings >= 1, "the server sent a keepalive PING first");
    // The server's clock starts when it accepts, a moment before ours.
    let earliest = interval + ping_timeout - Duration::from_millis(100);
    assert!(elapsed >= earliest, "closed after {elapsed:?}");
}

/// A complete SayHello request body: one uncompressed gRPC message.
fn say_hello_body(name: &str) -> Bytes {
    let message = HelloRequest { name: name.into() }.encode_to_vec();
    let mut body = BytesMut::new();
    body.put_u8(0);
    body.put_u32(message.len().try_into().unwrap());
    body.put_slice(&message);
    body.freeze()
}

#[tokio::test]
async fn a_peer_that_answers_keepalive_pings_stays_connected() {
    let server = start(serving(Serving {
        keepalive_interval: Some(Duration::from_millis(200)),
        keepalive_timeout: Duration::from_millis(200),
        ..Serving::default()
    }))
    .await;
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    // h2 answers PINGs by itself, as long as its connection is polled.
    let (send, connection) = h2::client::handshake(tcp).await.unwrap();
    let driven = tokio::spawn(connection);
    // Several keepalive rounds, and no request to keep the connection busy.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!driven.is_finished(), "{:?}", driven.await);

    let call = async {
        let request = http::Request::post(format!(
            "http://{}/greeter.v1.Greeter/SayHello",
            server.addr
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("authorization", format!("Bearer {}", server::DEFAULT_TOKEN))
        .body(())
        .unwrap();
        let mut send = send.ready().await.unwrap();
        let (response, mut body) = send.send_request(request, false).unwrap();
        body.send_data(say_hello_body("kept"), true).unwrap();
        let mut response = response.await.unwrap().into_body();
        while let Some(chunk) = response.data().await {
            let chunk = chunk.unwrap();
            let _ = response.flow_control().release_capacity(chunk.len());
        }
        response.trailers().await.unwrap()
    };
    let trailers = timeout(PROMPT, call).await.unwrap().expect("trailers");
    assert_eq!(trailers.get("grpc-status").unwrap(), "0", "{trailers:?}");
}

#[tokio::test]
async fn the_maximum_call_duration_ends_a_stream_that_runs_too_long() {
    let max = Duration::from_millis(300);
    let server = start(serving(Serving {
        max_call_duration: Some(max),
        ..Serving::default()
    }))
    .await;
    // No client deadline: only the server's limit can end this call.
    let config = ClientConfig {
        addr: format!("http://{}", server.addr),
        timeout: None,
        ..ClientConfig::default()
    };
    let mut client = client::connect(&config).await.unwrap();
    let started = Instant::now();
    let ended = async {
        let mut replies = client::bidi(&mut client, tokio_stream::pending()).await?;
        while replies.next().await?.is_some() {}
        replies.trailers().await.map(drop)
    };
    let status = timeout(PROMPT, ended).await.unwrap().unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(started.elapsed() >= max - Duration::from_millis(50));
}

#[tokio::test]
async fn settings_that_cannot_work_are_refused() {
    for broken in [
        Serving {
            max_concurrent_streams: 0,
            ..Serving::default()
        },
        Serving {
            keepalive_timeout: Duration::ZERO,
            ..Serving::default()
        },
        Serving {
            keepalive_interval: Some(Duration::ZERO),
            ..Serving::default()
        },
    ] {
        let error = server::router(&serving(broken.clone())).await.unwrap_err();
        assert!(error.to_string().contains("must be"), "{broken:?}: {error}");
    }
}

/// A CA made for this run.
struct Ca {
    pem: String,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self {
            pem: issuer.pem(),
            issuer,
        }
    }

    /// A server certificate for `localhost` and its key, as PEM.
    fn server_cert(&self) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "greeter server");
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// PEM files in a directory of their own, removed when dropped.
struct Pems {
    dir: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
    other_ca: PathBuf,
}

impl Pems {
    /// A server certificate signed by a CA, that CA, and another CA that signed nothing here.
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("greeter-serving-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = Ca::new("greeter test CA");
        let (cert, key) = ca.server_cert();
        let write = |name: &str, pem: &str| {
            let path = dir.join(name);
            std::fs::write(&path, pem).unwrap();
            path
        };
        Self {
            cert: write("server.pem", &cert),
            key: write("server.key", &key),
            ca: write("ca.pem", &ca.pem),
            other_ca: write("other-ca.pem", &Ca::new("another CA").pem),
            dir,
        }
    }
}

impl Drop for Pems {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tls_client(addr: &str, ca: &Path, domain: &str) -> ClientConfig {
    ClientConfig {
        addr: addr.to_owned(),
        tls_ca: Some(ca.to_owned()),
        tls_domain: Some(domain.to_owned()),
        ..ClientConfig::default()
    }
}

#[tokio::test]
async fn the_example_server_and_client_speak_tls() {
    let pems = Pems::new();
    let server = start(ServerConfig {
        tls: Some((pems.cert.clone(), pems.key.clone())),
        ..ServerConfig::default()
    })
    .await;
    let https = format!("https://{}", server.addr);

    let mut client = client::connect(&tls_client(&https, &pems.ca, "localhost"))
        .await
        .unwrap();
    let reply = client::say_hello(&mut client, "tls").await.unwrap();
    assert_eq!(reply.message, "Hello tls");
    let replies = client::lots_of_replies(&mut client, "tls").await.unwrap();
    assert_eq!(replies.message.len(), 4);

    // TLS options turn TLS on even for an http:// address.
    let http = format!("http://{}", server.addr);
    let mut upgraded = client::connect(&tls_client(&http, &pems.ca, "localhost"))
        .await
        .unwrap();
    assert_eq!(
        client::say_hello(&mut upgraded, "upgraded")
            .await
            .unwrap()
            .message,
        "Hello upgraded"
    );
}

#[tokio::test]
async fn a_client_trusting_another_ca_or_name_fails_clearly() {
    let pems = Pems::new();
    let server = start(ServerConfig {
        tls: Some((pems.cert.clone(), pems.key.clone())),
        ..ServerConfig::default()
    })
    .await;
    let https = format!("https://{}", server.addr);

    let stranger = tls_client(&https, &pems.other_ca, "localhost");
    let error = timeout(PROMPT, client::connect(&stranger))
        .await
        .expect("fails promptly")
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(&format!("cannot connect to {https}")),
        "{error}"
    );
    assert!(
        error.contains("invalid peer certificate: UnknownIssuer"),
        "{error}"
    );

    let wrong_name = tls_client(&https, &pems.ca, "elsewhere.example");
    let error = timeout(PROMPT, client::connect(&wrong_name))
        .await
        .expect("fails promptly")
        .unwrap_err()
        .to_string();
    assert!(error.contains("invalid peer certificate"), "{error}");
    assert!(
        error.contains("not valid for name \"elsewhere.example\""),
        "{error}"
    );

    let no_ca = ClientConfig {
        addr: https.clone(),
        ..ClientConfig::default()
    };
    let error = client::connect(&no_ca).await.unwrap_err().to_string();
    assert!(
        error.contains("needs the CA that signed the server"),
        "{error}"
    );

    // The server is unharmed.
    let mut client = client::connect(&tls_client(&https, &pems.ca, "localhost"))
        .await
        .unwrap();
    assert!(client::say_hello(&mut client, "still").await.is_ok());
}

/// A `greeter-server` process, killed when dropped.
struct ServerProcess {
    child: Child,
    url: String,
}

impl ServerProcess {
    /// Starts `greeter-server` on a free port with `args` and reads the URL it announces.
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_greeter-server"))
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("greeter-server starts");
        let stdout = child.stdout.take().unwrap();
        let (sender, first_line) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = sender.send(lines.next());
            // Keep reading so that the server never blocks on a full pipe.
            lines.for_each(drop);
        });
        let line = first_line
            .recv_timeout(PROMPT)
            .ok()
            .flatten()
            .and_then(Result::ok);
        let mut server = Self {
            child,
            url: String::new(),
        };
        let line = line.expect("greeter-server announces its address");
        server.url = line
            .split_once("listening on ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .expect(&line)
            .to_owned();
        server
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `greeter-client` with `args`; fails the test if it runs longer than `PROMPT`.
fn run_client(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_greeter-client"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("greeter-client starts");
    let read = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > PROMPT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("greeter-client {args:?} still running after {PROMPT:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

#[test]
fn the_binaries_speak_tls_with_their_flags() {
    let pems = Pems::new();
    let path = |path: &Path| path.to_str().unwrap().to_owned();
    let (cert, key, ca, other_ca) = (
        path(&pems.cert),
        path(&pems.key),
        path(&pems.ca),
        path(&pems.other_ca),
    );
    let server = ServerProcess::start(&["--tls-cert", &cert, "--tls-key", &key]);
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );

    let trusted = [
        "--addr",
        &server.url,
        "--tls-ca",
        &ca,
        "--tls-domain",
        "localhost",
    ];
    let output = run_client(&[&trusted[..], &["say-hello"][..]].concat());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("reply: Hello world"), "{stdout}");

    let stranger = [
        "--addr",
        &server.url,
        "--tls-ca",
        &other_ca,
        "--tls-domain",
        "localhost",
        "say-hello",
    ];
    let output = run_client(&stranger);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        stderr.starts_with("greeter-client: cannot connect to https://"),
        "{stderr}"
    );
    assert!(
        stderr.contains("invalid peer certificate: UnknownIssuer"),
        "{stderr}"
    );
}
