//! Service discovery over etcd: `greeter-server --etcd URL` registers the server under a lease,
//! `greeter-client --etcd URL` finds every registered server and spreads its calls over them
//! (through [`greeter_runtime::etcd`]).
//!
//! It needs the crate's `etcd` feature, off by default because etcd-client's build runs
//! prost-build, which needs a protoc (`PROTOC`). Built without it, `--etcd` is an error that
//! says how to build with it.

use std::net::SocketAddr;
use std::time::Duration;

use crate::client::{BoxError, ClientConfig};

/// The prefix keys go under: `<prefix>/greeter.v1.Greeter/<instance id>`.
pub const DEFAULT_PREFIX: &str = "/services";
/// Default lease TTL: a killed server disappears from clients within this.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10);

/// Where the registry is and how servers register in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdConfig {
    /// etcd's client URLs, e.g. `http://127.0.0.1:2379`.
    pub endpoints: Vec<String>,
    /// The prefix keys go under.
    pub prefix: String,
    /// The registration lease's TTL (whole seconds, at least 2).
    pub ttl: Duration,
}

impl EtcdConfig {
    /// The defaults for etcd at `endpoints`.
    pub fn new(endpoints: Vec<String>) -> Self {
        Self {
            endpoints,
            prefix: DEFAULT_PREFIX.to_owned(),
            ttl: DEFAULT_TTL,
        }
    }
}

/// Fails, saying how to build with it, when this build has no etcd support: a binary checks
/// before it starts anything.
pub fn available() -> Result<(), BoxError> {
    #[cfg(not(feature = "etcd"))]
    return Err(not_built());
    #[cfg(feature = "etcd")]
    Ok(())
}

/// The error when the crate was built without etcd support.
#[cfg(not(feature = "etcd"))]
fn not_built() -> BoxError {
    "this binary was built without etcd support: build it with `--features etcd` \
     (and a protoc: PROTOC=\"$(cargo run -q -p protoc-gen-greeter --example vendored-protoc)\")"
        .into()
}

/// A server registered in etcd; [`deregister`](Self::deregister) removes it at once, and if the
/// process dies instead its key expires within the TTL.
#[derive(Debug)]
pub struct Registered {
    key: String,
    #[cfg(feature = "etcd")]
    registration: greeter_runtime::etcd::Registration,
}

impl Registered {
    /// The key the server is registered under.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Removes the registration (before the server stops, so clients stop calling it first).
    pub async fn deregister(self) -> Result<(), BoxError> {
        #[cfg(feature = "etcd")]
        self.registration.deregister().await?;
        Ok(())
    }
}

/// Registers the Greeter served at `address` (the address clients dial: the listening one, or
/// the one given to advertise), named `id` among the instances, with its `location` as
/// metadata.
///
/// Fails, saying why, when etcd cannot be reached or `address` is not one a client could dial.
pub async fn register(
    config: &EtcdConfig,
    id: &str,
    address: SocketAddr,
    location: &str,
) -> Result<Registered, BoxError> {
    if address.ip().is_unspecified() || address.port() == 0 {
        return Err(format!(
            "cannot register {address} in etcd: no client can dial it (give the address to \
             advertise, e.g. --advertise 10.0.0.5:50051)"
        )
        .into());
    }
    #[cfg(feature = "etcd")]
    {
        use greeter_runtime::etcd::{Instance, Registry};
        let registry = Registry::connect(&config.endpoints)
            .await?
            .with_prefix(config.prefix.as_str());
        let instance = Instance::new(id, address.to_string())
            .with_metadata("location", location)
            .with_metadata("version", env!("CARGO_PKG_VERSION"));
        let registration = registry
            .register(
                crate::pb::greeter_methods::SERVICE_NAME,
                instance,
                config.ttl,
            )
            .await?;
        Ok(Registered {
            key: registration.key().to_owned(),
            registration,
        })
    }
    #[cfg(not(feature = "etcd"))]
    {
        let _ = (config, id, location);
        Err(not_built())
    }
}

/// A channel balanced over the Greeter servers registered in etcd now and later, with the
/// origin to call (`http(s)://greeter.v1.Greeter`, the service as the authority, as grpc-go's
/// resolvers do), and whether the token may go over plaintext.
///
/// Each instance is dialed with `client`'s TLS settings (`https://` when `tls_ca` is set) and
/// its timeout. Without TLS only instances on this machine (loopback addresses) are called:
/// the bearer token would cross the network in the clear to any other, so those are left out
/// (and logged). Fails when etcd cannot be reached or no server is registered.
#[cfg(feature = "etcd")]
pub async fn discover(
    config: &EtcdConfig,
    client: &ClientConfig,
) -> Result<(greeter_runtime::etcd::Discovery, tonic::codegen::http::Uri), BoxError> {
    use greeter_runtime::etcd::{Instance, Registry};
    use tonic::transport::Endpoint;

    let service = crate::pb::greeter_methods::SERVICE_NAME;
    let tls = match &client.tls_ca {
        Some(ca) => Some(crate::tls::client_tls(ca, client.tls_domain.as_deref())?),
        None if client.tls_domain.is_some() => {
            return Err("TLS needs the CA that signed the servers (--tls-ca)".into());
        }
        None => None,
    };
    let connect_timeout = client
        .timeout
        .unwrap_or(crate::client::DEFAULT_CONNECT_TIMEOUT);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let endpoint = move |instance: &Instance| -> Result<Endpoint, BoxError> {
        let address = instance.address();
        let url = format!("{scheme}://{address}");
        let endpoint = Endpoint::from_shared(url)?.connect_timeout(connect_timeout);
        match &tls {
            Some(tls) => Ok(endpoint.tls_config(tls.clone())?),
            None if is_loopback(address) => Ok(endpoint),
            None => Err(format!(
                "not calling {address} over plaintext (the token would travel in the clear): \
                 give --tls-ca"
            )
            .into()),
        }
    };
    let registry = Registry::connect(&config.endpoints)
        .await?
        .with_prefix(config.prefix.as_str());
    let discovery = registry.discover_with(service, endpoint).await?;
    if discovery.instances().is_empty() {
        return Err(format!(
            "no {service} server is registered under {}/{service} in etcd at {}",
            config.prefix,
            config.endpoints.join(", ")
        )
        .into());
    }
    let origin = format!("{scheme}://{service}").parse()?;
    Ok((discovery, origin))
}

/// Connects a Greeter client as [`crate::client::connect`] does, to the servers registered in
/// etcd instead of one address.
pub async fn connect(
    config: &EtcdConfig,
    client: &ClientConfig,
) -> Result<crate::client::GreeterClient, BoxError> {
    #[cfg(feature = "etcd")]
    {
        let (discovery, origin) = discover(config, client).await?;
        // Without TLS the endpoint maker above calls loopback instances only.
        let plaintext_ok = client.tls_ca.is_none();
        crate::client::with_settings(discovery.channel(), origin, client, plaintext_ok)
    }
    #[cfg(not(feature = "etcd"))]
    {
        let _ = (config, client);
        Err(not_built())
    }
}

/// Whether `host:port` is on this machine.
#[cfg(feature = "etcd")]
fn is_loopback(address: &str) -> bool {
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    crate::client::is_loopback_host(host)
}
