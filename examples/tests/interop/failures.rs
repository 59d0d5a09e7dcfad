//! Failures are clear and bounded: a client that trusts another CA or claims no name fails in
//! time with what went wrong, and the flags refuse TLS without certificates before any
//! connection is tried.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::peers::{CLIENT_RUN, PYTHON_PEERS, Peer, RUST_SERVER, client, start_server};
use crate::pki::{Pki, ca, tls_args};
use crate::process::{TempDir, run};
use crate::python::python;

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
