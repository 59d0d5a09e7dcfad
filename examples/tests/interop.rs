//! gRPC interop: `interop-client` and `interop-server` against each other, plaintext and over
//! TLS, and against grpcio's (Python, the C-core stack) interop peers in
//! `tests/python/interop/`, every case of `--test_case=all` in each pairing.
//!
//! Also: a client that trusts another CA fails clearly and in time; the flags refuse TLS
//! without certificates; reflection (v1 and v1alpha) describes the service; and the client's
//! checks are real: against a server that gets every case slightly wrong, each case fails with
//! what differed.
//!
//! Servers listen on port 0 (the startup line names the port), children are killed on drop,
//! and every wait is bounded. The Python peers run in the venv of `tests/python/venv.sh`, made
//! once under the cargo target dir; `python3` with `venv` and `pip` is required.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use greeter_examples::interop::pb::test_service_server::{TestService, TestServiceServer};
use greeter_examples::interop::pb::unimplemented_service_server::{
    UnimplementedService, UnimplementedServiceServer,
};
use greeter_examples::interop::pb::{
    Empty, SimpleRequest, SimpleResponse, StreamingInputCallRequest, StreamingInputCallResponse,
    StreamingOutputCallRequest, StreamingOutputCallResponse,
};
use greeter_examples::interop::zeros;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tonic::codegen::BoxStream;
use tonic::{Code, Request, Response, Status, Streaming};

const RUST_SERVER: &str = env!("CARGO_BIN_EXE_interop-server");
const RUST_CLIENT: &str = env!("CARGO_BIN_EXE_interop-client");
const PYTHON_PEERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/python/interop");
const VENV_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/python/venv.sh");

/// The name the test certificates are issued for (gRPC's own test certificate's), which the
/// clients claim with `--server_host_override` while dialling 127.0.0.1.
const CERT_NAME: &str = "*.test.google.fr";
const CLAIMED_HOST: &str = "foo.test.google.fr";

/// How long a server may take to print its port (the Python one generates its stubs first).
const STARTUP: Duration = Duration::from_secs(60);
/// How long a client run may take: every case has its own shorter bound inside.
const CLIENT_RUN: Duration = Duration::from_secs(120);
/// How long making the venv may take (a first run installs grpcio).
const VENV_SETUP: Duration = Duration::from_secs(900);

const CASE_NAMES: [&str; 14] = [
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "custom_metadata",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "cancel_after_begin",
    "cancel_after_first_response",
    "timeout_on_sleeping_server",
];

// ---------------------------------------------------------------------------------------------
// Processes, files and certificates.

/// A directory of its own for one test, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("interop-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("cannot make a temporary directory");
        Self(dir)
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("cannot write a temporary file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process, killed and reaped on drop (also when a test panics).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a finished process printed.
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Finished {
    fn report(&self) -> String {
        format!(
            "{}\n--- stdout\n{}--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `command` to its end, its output in files under `dir`; killed (and the test failed)
/// after `limit`.
fn run(mut command: Command, dir: &TempDir, limit: Duration) -> Finished {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let (out, err) = (
        dir.0.join(format!("out-{n}")),
        dir.0.join(format!("err-{n}")),
    );
    let file = |path: &Path| File::create(path).expect("cannot make an output file");
    command
        .stdin(Stdio::null())
        .stdout(file(&out))
        .stderr(file(&err));
    let mut child = Running(
        command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}")),
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("cannot wait for a child") {
            break Some(status);
        }
        if started.elapsed() > limit {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(child);
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
    let (stdout, stderr) = (read(&out), read(&err));
    match status {
        Some(status) => Finished {
            status,
            stdout,
            stderr,
        },
        None => panic!(
            "{command:?} did not finish within {limit:?}\n--- stdout\n{stdout}--- stderr\n{stderr}"
        ),
    }
}

/// The venv's Python, made once per test process (the script locks against other processes).
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let dir = TempDir::new();
        let finished = run(Command::new(VENV_SCRIPT), &dir, VENV_SETUP);
        assert!(
            finished.status.success(),
            "{VENV_SCRIPT} failed; these tests need python3 with venv and pip: {}",
            finished.report()
        );
        PathBuf::from(finished.stdout.trim_end())
    })
}

/// A running interop server and the port it listens on.
struct Server {
    port: u16,
    stderr: PathBuf,
    _process: Running,
}

impl Server {
    /// Starts `command` (a server given `--port 0`) and waits for its startup line.
    fn start(mut command: Command, dir: &TempDir) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let stderr = dir
            .0
            .join(format!("server-{}", NEXT.fetch_add(1, Ordering::Relaxed)));
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr).expect("cannot make the server's log"));
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let process = Running(child);
        // Read on a thread, so that the wait for the port is bounded; it keeps draining the
        // server's stdout afterwards.
        let (lines, receive) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + STARTUP;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match receive.recv_timeout(left) {
                Ok(line) => {
                    if let Some(port) = listening_port(&line) {
                        return Self {
                            port,
                            stderr,
                            _process: process,
                        };
                    }
                }
                Err(_) => panic!(
                    "{command:?} printed no port within {STARTUP:?} (or exited)\n--- stderr\n{}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                ),
            }
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

/// The port of a startup line, `… listening on port N …`.
fn listening_port(line: &str) -> Option<u16> {
    let (_, rest) = line.split_once("listening on port ")?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Which implementation plays a part.
#[derive(Debug, Clone, Copy)]
enum Peer {
    Rust,
    Python,
}

/// A CA and the PEM files of a server certificate it signed for [`CERT_NAME`].
struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn ca(common_name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

impl Pki {
    fn new(dir: &TempDir) -> Self {
        let ca = ca("interop test CA");
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![CERT_NAME.to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "interop test server");
        let cert = params.signed_by(&key, &ca).unwrap();
        Self {
            ca: dir.write("ca.pem", &ca.pem()),
            cert: dir.write("server.pem", &cert.pem()),
            key: dir.write("server.key", &key.serialize_pem()),
        }
    }
}

/// The server of `peer`, plaintext or (with `pki`) TLS, on a free loopback port.
fn start_server(peer: Peer, pki: Option<&Pki>, dir: &TempDir) -> Server {
    let mut command = match peer {
        Peer::Rust => Command::new(RUST_SERVER),
        Peer::Python => {
            let mut command = Command::new(python());
            command.arg(Path::new(PYTHON_PEERS).join("server.py"));
            command
        }
    };
    command.args(["--port", "0", "--bind_host", "127.0.0.1"]);
    if let Some(pki) = pki {
        command
            .arg("--use_tls=true")
            .arg("--tls_cert_file")
            .arg(&pki.cert)
            .arg("--tls_key_file")
            .arg(&pki.key);
    }
    Server::start(command, dir)
}

/// The client of `peer` against `port` with `args` after the address.
fn client(peer: Peer, port: u16, args: &[&str]) -> Command {
    let mut command = match peer {
        Peer::Rust => Command::new(RUST_CLIENT),
        Peer::Python => {
            let mut command = Command::new(python());
            command.arg(Path::new(PYTHON_PEERS).join("client.py"));
            command
        }
    };
    command
        .args(["--server_host", "127.0.0.1", "--server_port"])
        .arg(port.to_string())
        .args(args);
    command
}

/// TLS flags of a client trusting `ca` and claiming [`CLAIMED_HOST`].
fn tls_args(ca: &Path) -> Vec<String> {
    vec![
        "--use_tls=true".to_owned(),
        "--use_test_ca=true".to_owned(),
        format!("--ca_file={}", ca.display()),
        format!("--server_host_override={CLAIMED_HOST}"),
    ]
}

/// Runs every case with `client_peer` against `server_peer` and checks each passed.
fn every_case_passes(client_peer: Peer, server_peer: Peer, tls: bool) {
    let dir = TempDir::new();
    let pki = tls.then(|| Pki::new(&dir));
    let server = start_server(server_peer, pki.as_ref(), &dir);
    let mut args = vec!["--test_case=all".to_owned()];
    if let Some(pki) = &pki {
        args.extend(tls_args(&pki.ca));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let finished = run(client(client_peer, server.port, &args), &dir, CLIENT_RUN);
    let context = || {
        format!(
            "{client_peer:?} client against {server_peer:?} server (tls: {tls}): {}\n--- server log\n{}",
            finished.report(),
            server.log()
        )
    };
    assert!(finished.status.success(), "{}", context());
    for name in CASE_NAMES {
        let passed = finished
            .stdout
            .lines()
            .any(|line| line.starts_with(&format!("PASS {name} ")));
        assert!(passed, "no PASS line for {name}: {}", context());
    }
}

// ---------------------------------------------------------------------------------------------
// Every pairing passes every case.

#[test]
fn rust_client_passes_every_case_against_rust_server() {
    every_case_passes(Peer::Rust, Peer::Rust, false);
}

#[test]
fn rust_client_passes_every_case_against_rust_server_over_tls() {
    every_case_passes(Peer::Rust, Peer::Rust, true);
}

#[test]
fn rust_client_passes_every_case_against_python_server() {
    every_case_passes(Peer::Rust, Peer::Python, false);
}

#[test]
fn rust_client_passes_every_case_against_python_server_over_tls() {
    every_case_passes(Peer::Rust, Peer::Python, true);
}

#[test]
fn python_client_passes_every_case_against_rust_server() {
    every_case_passes(Peer::Python, Peer::Rust, false);
}

#[test]
fn python_client_passes_every_case_against_rust_server_over_tls() {
    every_case_passes(Peer::Python, Peer::Rust, true);
}

// ---------------------------------------------------------------------------------------------
// Failures are clear and bounded.

#[test]
fn a_client_trusting_another_ca_or_claiming_no_name_fails_clearly() {
    let dir = TempDir::new();
    let pki = Pki::new(&dir);
    let other_ca = dir.write("other-ca.pem", &ca("another CA").pem());
    let server = start_server(Peer::Rust, Some(&pki), &dir);

    let mut args = tls_args(&other_ca);
    args.push("--test_case=empty_unary".to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = Instant::now();
    let finished = run(client(Peer::Rust, server.port, &args), &dir, CLIENT_RUN);
    let elapsed = started.elapsed();
    assert!(!finished.status.success(), "{}", finished.report());
    assert!(
        elapsed < Duration::from_secs(15),
        "took {elapsed:?}: {}",
        finished.report()
    );
    let expected = format!(
        "interop-client: cannot connect to https://127.0.0.1:{}/",
        server.port
    );
    assert!(
        finished.stderr.starts_with(&expected) && finished.stderr.contains("UnknownIssuer"),
        "{}",
        finished.report()
    );

    // The right CA, but no --server_host_override: the certificate is not for 127.0.0.1.
    let ca_file = format!("--ca_file={}", pki.ca.display());
    let args = [
        "--use_tls",
        "--use_test_ca",
        &ca_file,
        "--test_case=empty_unary",
    ];
    let finished = run(client(Peer::Rust, server.port, &args), &dir, CLIENT_RUN);
    assert!(!finished.status.success(), "{}", finished.report());
    assert!(
        finished.stderr.starts_with(&expected)
            && finished.stderr.contains("certificate not valid for name"),
        "{}",
        finished.report()
    );
}

#[test]
fn tls_without_certificates_is_refused_at_startup() {
    let dir = TempDir::new();
    let refused = |command: Command, expected: &str| {
        let finished = run(command, &dir, Duration::from_secs(60));
        assert!(!finished.status.success(), "{}", finished.report());
        assert!(finished.stderr.contains(expected), "{}", finished.report());
    };
    let mut server = Command::new(RUST_SERVER);
    server.args(["--port", "0", "--bind_host", "127.0.0.1", "--use_tls"]);
    refused(
        server,
        "interop-server: --use_tls needs --tls_cert_file and --tls_key_file",
    );
    let mut python_server = Command::new(python());
    python_server
        .arg(Path::new(PYTHON_PEERS).join("server.py"))
        .args(["--port", "0", "--use_tls"]);
    refused(
        python_server,
        "--use_tls needs --tls_cert_file and --tls_key_file",
    );
    // Nothing listens on port 1: the flags are refused before any connection is tried.
    refused(
        client(Peer::Rust, 1, &["--use_tls"]),
        "interop-client: --use_tls without --use_test_ca would trust the system's root certificates",
    );
    refused(
        client(Peer::Rust, 1, &["--use_tls", "--use_test_ca"]),
        "interop-client: --use_test_ca needs --ca_file",
    );
    refused(
        client(Peer::Rust, 1, &["--test_case=large-unary"]),
        "unknown test case \"large-unary\"",
    );
}

// ---------------------------------------------------------------------------------------------
// Reflection.

#[test]
fn reflection_v1_and_v1alpha_describe_the_test_service() {
    use prost::Message;
    use tonic_reflection::pb::{v1, v1alpha};

    let dir = TempDir::new();
    let server = start_server(Peer::Rust, None, &dir);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (v1_services, v1alpha_services, file) = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), async {
            let channel = tonic::transport::Endpoint::from_shared(format!(
                "http://127.0.0.1:{}",
                server.port
            ))
            .unwrap()
            .connect()
            .await
            .unwrap();
            let list = v1::server_reflection_request::MessageRequest::ListServices(String::new());
            let symbol = v1::server_reflection_request::MessageRequest::FileContainingSymbol(
                "grpc.testing.TestService".to_owned(),
            );
            let requests = [list, symbol].map(|request| v1::ServerReflectionRequest {
                host: String::new(),
                message_request: Some(request),
            });
            let mut v1_client =
                v1::server_reflection_client::ServerReflectionClient::new(channel.clone());
            let mut answers = v1_client
                .server_reflection_info(tokio_stream::iter(requests))
                .await
                .unwrap()
                .into_inner();
            let mut v1_services = Vec::new();
            let mut file = None;
            while let Some(answer) = answers.message().await.unwrap() {
                match answer.message_response.unwrap() {
                    v1::server_reflection_response::MessageResponse::ListServicesResponse(list) => {
                        v1_services.extend(list.service.into_iter().map(|s| s.name));
                    }
                    v1::server_reflection_response::MessageResponse::FileDescriptorResponse(
                        files,
                    ) => {
                        let proto = prost_types::FileDescriptorProto::decode(
                            files.file_descriptor_proto[0].as_slice(),
                        )
                        .unwrap();
                        file = proto.name;
                    }
                    other => panic!("unexpected reflection answer {other:?}"),
                }
            }

            // v1alpha, which grpcurl and grpcio-reflection still speak.
            let mut v1alpha_client =
                v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
            let request = v1alpha::ServerReflectionRequest {
                host: String::new(),
                message_request: Some(
                    v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
                ),
            };
            let mut answers = v1alpha_client
                .server_reflection_info(tokio_stream::iter([request]))
                .await
                .unwrap()
                .into_inner();
            let answer = answers.message().await.unwrap().unwrap();
            let v1alpha_services = match answer.message_response.unwrap() {
                v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(
                    list,
                ) => list.service.into_iter().map(|s| s.name).collect::<Vec<_>>(),
                other => panic!("unexpected v1alpha reflection answer {other:?}"),
            };
            (v1_services, v1alpha_services, file)
        })
        .await
        .expect("reflection answered within 20 s")
    });
    // Both versions list the services served, never the one that is not.
    let want = [
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.testing.TestService",
    ];
    for mut services in [v1_services, v1alpha_services] {
        services.sort();
        assert_eq!(services, want);
    }
    assert_eq!(file.as_deref(), Some("grpc/testing/test.proto"));
}

// ---------------------------------------------------------------------------------------------
// The client's checks are real.

/// A server that gets every case slightly wrong (and serves the service that must not be).
struct Liar;

impl TestService for Liar {
    async fn empty_call(&self, _: Request<Empty>) -> Result<Response<Empty>, Status> {
        Err(Status::internal("the liar fails EmptyCall"))
    }

    async fn unary_call(
        &self,
        request: Request<SimpleRequest>,
    ) -> Result<Response<SimpleResponse>, Status> {
        let request = request.into_inner();
        if let Some(status) = request.response_status {
            // The code right, the message's surrounding whitespace lost.
            return Err(Status::new(
                Code::from_i32(status.code),
                status.message.trim(),
            ));
        }
        let size = usize::try_from(request.response_size).unwrap_or_default();
        Ok(Response::new(SimpleResponse {
            payload: Some(zeros(size.saturating_sub(1))),
            ..SimpleResponse::default()
        }))
    }

    async fn streaming_input_call(
        &self,
        _: Request<Streaming<StreamingInputCallRequest>>,
    ) -> Result<Response<StreamingInputCallResponse>, Status> {
        // Answers at once, without reading what the client sends.
        Ok(Response::new(StreamingInputCallResponse {
            aggregated_payload_size: 1,
        }))
    }

    async fn streaming_output_call(
        &self,
        request: Request<StreamingOutputCallRequest>,
    ) -> Result<Response<BoxStream<StreamingOutputCallResponse>>, Status> {
        // The sizes asked for, in reverse order.
        let mut sizes = sizes(&request.into_inner(), 0);
        sizes.reverse();
        Ok(Response::new(responses(sizes)))
    }

    async fn full_duplex_call(
        &self,
        request: Request<Streaming<StreamingOutputCallRequest>>,
    ) -> Result<Response<BoxStream<StreamingOutputCallResponse>>, Status> {
        // Answers the first request only, one byte too long each and ignoring any status,
        // then ends; with no request at all it answers anyway.
        let sizes = match request.into_inner().message().await? {
            Some(first) => sizes(&first, 1),
            None => vec![0],
        };
        Ok(Response::new(responses(sizes)))
    }

    async fn unimplemented_call(&self, _: Request<Empty>) -> Result<Response<Empty>, Status> {
        Ok(Response::new(Empty {}))
    }
}

impl UnimplementedService for Liar {
    async fn unimplemented_call(&self, _: Request<Empty>) -> Result<Response<Empty>, Status> {
        Ok(Response::new(Empty {}))
    }
}

/// The response sizes `request` asks for, each `extra` bytes longer.
fn sizes(request: &StreamingOutputCallRequest, extra: usize) -> Vec<usize> {
    request
        .response_parameters
        .iter()
        .map(|p| usize::try_from(p.size).unwrap_or_default() + extra)
        .collect()
}

fn responses(sizes: Vec<usize>) -> BoxStream<StreamingOutputCallResponse> {
    let responses = sizes.into_iter().map(|size| {
        Ok(StreamingOutputCallResponse {
            payload: Some(zeros(size)),
        })
    });
    Box::pin(tokio_stream::iter(responses))
}

#[test]
fn every_case_fails_against_a_server_that_gets_it_wrong() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    runtime.spawn(
        tonic::transport::Server::builder()
            .add_service(TestServiceServer::new(Liar))
            .add_service(UnimplementedServiceServer::new(Liar))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let dir = TempDir::new();
    let finished = run(
        client(Peer::Rust, port, &["--test_case=all"]),
        &dir,
        CLIENT_RUN,
    );
    assert!(!finished.status.success(), "{}", finished.report());
    // What each case must report. `timeout_on_sleeping_server` is left out: whether the liar's
    // early OK or the client's 1 ms deadline comes first is a race.
    let expected = [
        ("empty_unary", "EmptyCall failed: Internal"),
        (
            "large_unary",
            "the UnaryCall response has a payload of 314158 bytes, want 314159",
        ),
        (
            "client_streaming",
            "aggregated payload size of 1, want 74922",
        ),
        (
            "server_streaming",
            "StreamingOutputCall's response 1 has a payload of 58979 bytes, want 31415",
        ),
        (
            "ping_pong",
            "FullDuplexCall's response 1 has a payload of 31416 bytes, want 31415",
        ),
        (
            "empty_stream",
            "FullDuplexCall with no request brought 1 responses, want none",
        ),
        (
            "custom_metadata",
            "UnaryCall's response headers carry x-grpc-test-echo-initial None",
        ),
        (
            "status_code_and_message",
            "FullDuplexCall succeeded, want status Unknown",
        ),
        (
            "special_status_message",
            "UnaryCall ended with message \"test with whitespace",
        ),
        (
            "unimplemented_method",
            "TestService/UnimplementedCall succeeded, want status Unimplemented",
        ),
        (
            "unimplemented_service",
            "UnimplementedService/UnimplementedCall succeeded, want status Unimplemented",
        ),
        // Either the call ends before it is cancelled, or the connection check after it fails.
        ("cancel_after_begin", "StreamingInputCall"),
        (
            "cancel_after_first_response",
            "FullDuplexCall's first response has a payload of 31416 bytes, want 31415",
        ),
    ];
    for (case, what) in expected {
        let line = finished
            .stderr
            .lines()
            .find(|line| line.starts_with(&format!("FAIL {case}: ")));
        assert!(
            line.is_some_and(|line| line.contains(what)),
            "{case} should fail with {what:?}: {}",
            finished.report()
        );
    }
}
