//! The peers: which implementation (ours or grpcio's) serves or calls, and the command that
//! starts it with gRPC's interop flags.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::pki::Pki;
use crate::process::{Server, TempDir};
use crate::python::python;

pub const RUST_SERVER: &str = env!("CARGO_BIN_EXE_interop-server");
const RUST_CLIENT: &str = env!("CARGO_BIN_EXE_interop-client");
pub const PYTHON_PEERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/python/interop");

/// How long a client run may take: every case has its own shorter bound inside.
pub const CLIENT_RUN: Duration = Duration::from_secs(120);

/// Which implementation plays a part.
#[derive(Debug, Clone, Copy)]
pub enum Peer {
    Rust,
    Python,
}

/// The server of `peer`, plaintext or (with `pki`) TLS, on a free loopback port.
pub fn start_server(peer: Peer, pki: Option<&Pki>, dir: &TempDir) -> Server {
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
pub fn client(peer: Peer, port: u16, args: &[&str]) -> Command {
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
