//! Every pairing passes every case: our client against our server and grpcio's, grpcio's
//! client against our server, each plaintext and over TLS.

use crate::peers::{CLIENT_RUN, Peer, client, start_server};
use crate::pki::{Pki, tls_args};
use crate::process::{TempDir, run};

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
