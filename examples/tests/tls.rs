//! TLS between the example server and client, with certificates made for each run: through the
//! library (a trusted CA; another CA, another name, no CA refused clearly) and through the
//! `greeter-server` and `greeter-client` binaries and their flags. Every wait is bounded.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{PROMPT, start};
use greeter_examples::client::{self, ClientConfig};
use greeter_examples::server::ServerConfig;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio::time::timeout;

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
        let dir = std::env::temp_dir().join(format!("greeter-tls-{}-{n}", std::process::id()));
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
