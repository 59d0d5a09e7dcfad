//! What the example server's tests share: a server on a free loopback port, and how long a
//! prompt answer may take.

use std::time::Duration;

use greeter_examples::server::{LocalServer, ServerConfig};

/// How long anything that should happen promptly may take before the test fails.
pub const PROMPT: Duration = Duration::from_secs(5);

/// Serves `config` (with no quota) on a free loopback port; dropping it shuts the server down.
pub async fn start(config: ServerConfig) -> LocalServer {
    LocalServer::start(ServerConfig { quota: 0, ..config })
        .await
        .expect("server starts")
}
