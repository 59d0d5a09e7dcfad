//! Service registry and discovery over etcd (feature `etcd`).
//!
//! A server registers each running instance of a service under
//! `<prefix>/<service full name>/<instance id>`, attached to a lease it keeps alive
//! ([`Registry::register`]). Stopping gracefully ([`Registration::deregister`]) revokes the lease
//! and the key goes at once; a process that dies stops renewing it and etcd deletes the key when
//! the lease's TTL runs out.
//!
//! A client watches the service's prefix ([`Registry::discover`]) and gets a tonic [`Channel`]
//! balanced over the live instances: one is added when its key appears and removed when the key
//! goes, so a generated client built on the channel spreads its calls over whatever is running.
//!
//! The value of each key is the JSON of etcd's own endpoints manager,
//! `{"Addr":"host:port","Metadata":{…}}`, the format grpc-go's etcd resolver (target
//! `etcd:///<prefix>/<service>`) reads and its endpoints manager writes. (The unit tests check
//! the format, Go's `null` and non-string metadata included; no Go peer runs in the tests.)
//!
//! ```no_run
//! use std::time::Duration;
//! use greeter_runtime::etcd::{Instance, Registry};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = Registry::connect(&["http://127.0.0.1:2379"]).await?;
//!
//! // Server: register, serve, deregister on the way out.
//! let registration = registry
//!     .register(
//!         "greeter.v1.Greeter",
//!         Instance::new("instance-1", "127.0.0.1:50051").with_metadata("zone", "a"),
//!         Duration::from_secs(10),
//!     )
//!     .await?;
//! // … serve until shutdown …
//! registration.deregister().await?;
//!
//! // Client: a channel over the live instances, for any generated client.
//! let discovery = registry.discover("greeter.v1.Greeter").await?;
//! let channel = discovery.channel();
//! # let _ = channel;
//! # Ok(())
//! # }
//! ```
//!
//! [`Channel`]: tonic::transport::Channel

mod discovery;
mod instance;
mod registration;

use std::time::Duration;

use etcd_client::{Client, ConnectOptions};

pub use discovery::{Discovery, EndpointError};
pub use instance::Instance;
pub use registration::Registration;

/// The prefix keys are registered under unless [`Registry::with_prefix`] says otherwise.
pub const DEFAULT_PREFIX: &str = "/services";

/// How long [`Registry::connect`] and each request wait for etcd.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// What can go wrong talking to etcd, or with what is asked of it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No endpoint was given to connect to.
    #[error("no etcd endpoint given")]
    NoEndpoints,
    /// etcd could not be reached (or did not answer) when connecting.
    #[error("etcd at {endpoints} is unreachable: {reason}")]
    Unreachable {
        /// The endpoints tried, comma-separated.
        endpoints: String,
        /// Why, in words.
        reason: String,
    },
    /// etcd did not answer a request in time.
    #[error("etcd did not answer {operation} within {timeout:?}")]
    Timeout {
        /// The request: `put`, `get`, `lease grant` …
        operation: &'static str,
        /// How long it waited.
        timeout: Duration,
    },
    /// etcd answered a request with an error.
    #[error("etcd {operation} failed: {source}")]
    Etcd {
        /// The request: `put`, `get`, `lease grant` …
        operation: &'static str,
        /// etcd-client's error.
        #[source]
        source: etcd_client::Error,
    },
    /// A service name, instance or lease TTL that cannot be registered.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was wrong: `service name`, `instance id`, `address`, `ttl`.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

/// A connection to etcd, and the prefix services are registered under. Cheap to clone.
#[derive(Clone)]
pub struct Registry {
    client: Client,
    prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Connects to etcd at `endpoints` (URLs such as `http://127.0.0.1:2379`) and checks that
    /// it answers, within [`DEFAULT_TIMEOUT`]: an unreachable etcd is an
    /// [`Error::Unreachable`] naming the endpoints, not a hang.
    pub async fn connect(endpoints: &[impl AsRef<str>]) -> Result<Self, Error> {
        Self::connect_within(endpoints, DEFAULT_TIMEOUT).await
    }

    /// [`connect`](Self::connect), waiting at most `timeout` for etcd, then for each request.
    pub async fn connect_within(
        endpoints: &[impl AsRef<str>],
        timeout: Duration,
    ) -> Result<Self, Error> {
        let endpoints: Vec<&str> = endpoints.iter().map(AsRef::as_ref).collect();
        if endpoints.is_empty() {
            return Err(Error::NoEndpoints);
        }
        let unreachable = |reason: String| Error::Unreachable {
            endpoints: endpoints.join(", "),
            reason,
        };
        // No whole-request timeout on the client: it would cut the watch and keep-alive
        // streams. Dead connections are found by HTTP/2 pings instead, and each unary request
        // is bounded here.
        let options = ConnectOptions::new()
            .with_connect_timeout(timeout)
            .with_keep_alive(timeout, timeout)
            .with_keep_alive_while_idle(true);
        let connect = async {
            let mut client = Client::connect(&endpoints, Some(options)).await?;
            // Connecting is lazy: one request proves that etcd answers.
            client.status().await?;
            Ok::<_, etcd_client::Error>(client)
        };
        let client = match tokio::time::timeout(timeout, connect).await {
            Ok(Ok(client)) => client,
            Ok(Err(error)) => return Err(unreachable(plain_reason(&error))),
            Err(_) => return Err(unreachable(format!("no answer within {timeout:?}"))),
        };
        Ok(Self {
            client,
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout,
        })
    }

    /// Registers and discovers under `prefix` instead of [`DEFAULT_PREFIX`] (a trailing `/` is
    /// dropped).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        let mut prefix = prefix.into();
        while prefix.ends_with('/') {
            prefix.pop();
        }
        self.prefix = prefix;
        self
    }

    /// The prefix keys are registered under.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The etcd client, for what this module does not do.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The instances of `service` registered now, in key order.
    pub async fn instances(&self, service: &str) -> Result<Vec<Instance>, Error> {
        let prefix = self.service_prefix(service)?;
        let (instances, _) = discovery::list(&self.client, &prefix, self.timeout).await?;
        Ok(instances)
    }

    /// `<prefix>/<service>/`, the keys of one service's instances.
    fn service_prefix(&self, service: &str) -> Result<String, Error> {
        check_segment("service name", service)?;
        Ok(format!("{}/{service}/", self.prefix))
    }
}

/// Why a request failed, in words: for a gRPC status its message and the root cause under it
/// (`tcp connect error: Connection refused (os error 111)`), not the status's debug dump.
fn plain_reason(error: &etcd_client::Error) -> String {
    let etcd_client::Error::GRpcStatus(status) = error else {
        return error.to_string();
    };
    let mut root: Option<&dyn std::error::Error> = std::error::Error::source(status);
    while let Some(deeper) = root.and_then(std::error::Error::source) {
        root = Some(deeper);
    }
    match root.map(ToString::to_string) {
        Some(cause) if cause != status.message() => format!("{}: {cause}", status.message()),
        _ => status.message().to_owned(),
    }
}

/// A key segment: not empty, and no `/` (which would make it two).
fn check_segment(what: &'static str, segment: &str) -> Result<(), Error> {
    let reason = if segment.is_empty() {
        "empty"
    } else if segment.contains('/') {
        "contains '/'"
    } else {
        return Ok(());
    };
    Err(Error::Invalid {
        what,
        reason: format!("`{segment}` {reason}"),
    })
}

/// Runs one etcd request within `timeout`, naming it in the error.
async fn bounded<T>(
    operation: &'static str,
    timeout: Duration,
    request: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, Error> {
    match tokio::time::timeout(timeout, request).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(source)) => Err(Error::Etcd { operation, source }),
        Err(_) => Err(Error::Timeout { operation, timeout }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_checked() {
        assert!(check_segment("service name", "greeter.v1.Greeter").is_ok());
        let empty = check_segment("service name", "").unwrap_err();
        assert_eq!(empty.to_string(), "invalid service name: `` empty");
        let nested = check_segment("instance id", "a/b").unwrap_err();
        assert_eq!(
            nested.to_string(),
            "invalid instance id: `a/b` contains '/'"
        );
    }

    #[tokio::test]
    async fn no_endpoint_is_an_error() {
        let error = Registry::connect(&[] as &[&str]).await.unwrap_err();
        assert!(matches!(error, Error::NoEndpoints), "{error}");
    }

    #[tokio::test]
    async fn an_unreachable_etcd_is_a_clear_error_in_time() {
        // A port that refuses connections: bound, then closed.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let started = std::time::Instant::now();
        let error = Registry::connect_within(&[&url], Duration::from_millis(500))
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(matches!(error, Error::Unreachable { .. }), "{error}");
        let text = error.to_string();
        let prefix = format!("etcd at {url} is unreachable: tcp connect error: ");
        assert!(text.starts_with(&prefix), "{text}");
        assert!(!text.contains("source:"), "{text}");
    }

    #[tokio::test]
    async fn a_silent_etcd_is_a_clear_error_in_time() {
        // Accepts the connection and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let _held = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let error = Registry::connect_within(&[&url], Duration::from_millis(500))
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("etcd at {url} is unreachable: no answer within 500ms")
        );
    }
}
