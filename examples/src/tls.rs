//! TLS settings the example's servers and clients share (Greeter, interop, etcd discovery): PEM
//! files are read once, at start-up, and a bad file is an error naming it.

use std::path::Path;

use tonic::transport::{Certificate, ClientTlsConfig, Identity, Server, ServerTlsConfig};

use crate::client::BoxError;
use crate::server::TLS_HANDSHAKE_TIMEOUT;

/// The bytes of a PEM file (read at start-up, so a blocking read is fine).
pub fn read_pem(path: &Path) -> Result<Vec<u8>, BoxError> {
    std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()).into())
}

/// `builder` serving TLS with the certificate chain `cert` and its private `key`, dropping
/// clients that take more than [`TLS_HANDSHAKE_TIMEOUT`] over the handshake.
pub fn serve_tls(builder: Server, cert: &Path, key: &Path) -> Result<Server, BoxError> {
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(read_pem(cert)?, read_pem(key)?))
        .timeout(TLS_HANDSHAKE_TIMEOUT);
    builder.tls_config(tls).map_err(|error| {
        format!(
            "invalid TLS certificate or key: {}",
            crate::error_chain(&error)
        )
        .into()
    })
}

/// A client's TLS settings: trust the CA in the PEM file `ca` (this build trusts no system
/// roots) and, when given, check the server's certificate against `domain` rather than the
/// host dialed.
pub fn client_tls(ca: &Path, domain: Option<&str>) -> Result<ClientTlsConfig, BoxError> {
    let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read_pem(ca)?));
    Ok(match domain {
        Some(domain) => tls.domain_name(domain),
        None => tls,
    })
}
