//! What the example server's tests share: a server on a free loopback port, and how long a
//! prompt answer may take.

use std::net::SocketAddr;
use std::time::Duration;

use greeter_examples::server::{self, ServerConfig};
use tokio::sync::oneshot;

/// How long anything that should happen promptly may take before the test fails.
pub const PROMPT: Duration = Duration::from_secs(5);

/// A running example server; dropping it shuts the server down.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    _shutdown: oneshot::Sender<()>,
}

/// Serves `config` (with no quota) on a free loopback port.
pub async fn start(config: ServerConfig) -> TestServer {
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
