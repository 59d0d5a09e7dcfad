//! Connecting the interop client as gRPC's interop flags describe: plaintext or TLS, the test CA
//! or the system roots, and a host name to claim when it differs from the one dialled.

use std::error::Error;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::time::Duration;

use tonic::codegen::http::Uri;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use super::pb::test_service_client::TestServiceClient;
use super::pb::unimplemented_service_client::UnimplementedServiceClient;

/// Errors of setting up the client.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// How long connecting (TCP and TLS handshake) may take before the client gives up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the server is and how to reach it: gRPC's interop client flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The host to connect to (`--server_host`).
    pub server_host: String,
    /// The port to connect to (`--server_port`).
    pub server_port: u16,
    /// The host name to claim, for TLS verification and `:authority`
    /// (`--server_host_override`); `server_host` when unset.
    pub server_host_override: Option<String>,
    /// Whether to connect over TLS (`--use_tls`).
    pub use_tls: bool,
    /// Whether to trust `ca_file` instead of the system's roots (`--use_test_ca`).
    pub use_test_ca: bool,
    /// The PEM file of the test CA (`--ca_file`); gRPC's own interop client has its test CA
    /// built in, we do not.
    pub ca_file: Option<PathBuf>,
}

/// The generated clients the test cases call, sharing one channel.
#[derive(Debug, Clone)]
pub struct Clients {
    /// `grpc.testing.TestService`.
    pub test: TestServiceClient<Channel>,
    /// `grpc.testing.UnimplementedService`, which no server serves.
    pub unimplemented: UnimplementedServiceClient<Channel>,
}

impl ClientConfig {
    /// The TLS settings the flags ask for, or why they make no sense together.
    fn tls(&self) -> Result<Option<ClientTlsConfig>, BoxError> {
        if !self.use_tls {
            if self.use_test_ca || self.ca_file.is_some() {
                return Err("--use_test_ca and --ca_file are only used with --use_tls=true".into());
            }
            return Ok(None);
        }
        let ca_file = match (self.use_test_ca, &self.ca_file) {
            (true, Some(ca_file)) => ca_file,
            (true, None) => {
                return Err(
                    "--use_test_ca needs --ca_file (the test CA's PEM file; none is built in)"
                        .into(),
                );
            }
            // tonic trusts the system's roots only with its `tls-native-roots` or
            // `tls-webpki-roots` feature, which this build does not enable: say so now rather
            // than fail every handshake with an unknown issuer.
            (false, _) => {
                return Err(
                    "--use_tls without --use_test_ca would trust the system's root \
                     certificates, which this build does not include: pass \
                     --use_test_ca=true --ca_file=<the CA that signed the server's certificate>"
                        .into(),
                );
            }
        };
        let tls = crate::tls::client_tls(ca_file, Some(self.claimed_host()))
            .map_err(|error| format!("--ca_file: {error}"))?;
        Ok(Some(tls))
    }

    /// The host name the server must be known by.
    fn claimed_host(&self) -> &str {
        self.server_host_override
            .as_deref()
            .unwrap_or(&self.server_host)
    }

    /// `scheme://host:port`, with an IPv6 address in brackets.
    fn uri(&self, host: &str) -> Result<Uri, BoxError> {
        let scheme = if self.use_tls { "https" } else { "http" };
        let host = match host.parse::<Ipv6Addr>() {
            Ok(_) => format!("[{host}]"),
            Err(_) => host.to_owned(),
        };
        let uri = format!("{scheme}://{host}:{}", self.server_port);
        uri.parse()
            .map_err(|error| format!("invalid server address {uri:?}: {error}").into())
    }
}

/// Connects to the server (failing within [`CONNECT_TIMEOUT`] when it cannot, e.g. on a
/// certificate the CA did not sign) and returns the generated clients over the connection.
pub async fn connect(config: &ClientConfig) -> Result<Clients, BoxError> {
    let address = config.uri(&config.server_host)?;
    let origin = config.uri(config.claimed_host())?;
    let mut endpoint = Endpoint::from(address.clone())
        .origin(origin.clone())
        .connect_timeout(CONNECT_TIMEOUT);
    if let Some(tls) = config.tls()? {
        endpoint = endpoint
            .tls_config(tls.timeout(CONNECT_TIMEOUT))
            .map_err(|error| format!("invalid TLS settings: {}", crate::error_chain(&error)))?;
    }
    let channel = endpoint.connect().await.map_err(|error| {
        format!(
            "cannot connect to {address}: {}",
            crate::error_chain(&error)
        )
    })?;
    Ok(Clients {
        test: TestServiceClient::with_origin(channel.clone(), origin.clone()),
        unimplemented: UnimplementedServiceClient::with_origin(channel, origin),
    })
}
