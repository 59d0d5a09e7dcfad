//! The interop server: [`InteropService`] behind its server chain, next to gRPC health and
//! reflection, over plaintext or TLS.

use std::error::Error;
use std::future::Future;
use std::path::PathBuf;

use greeter_runtime::Interceptors;
use greeter_runtime::interceptors::{Logging, Recovery};
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::{Router, TcpIncoming};

use super::pb::{self, test_service_server::TestServiceServer};
use super::{ECHO_INITIAL, EchoMetadata, InteropService};

/// Errors of setting up or running the server.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// Names of the services besides the test service, as reflection advertises them.
const HEALTH_SERVICE: &str = "grpc.health.v1.Health";
const REFLECTION_V1: &str = "grpc.reflection.v1.ServerReflection";
const REFLECTION_V1ALPHA: &str = "grpc.reflection.v1alpha.ServerReflection";

/// The port `interop-server` listens on by default (grpc-go's interop server's).
pub const DEFAULT_PORT: u16 = 10000;

/// PEM files of the server's certificate chain and private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key of the leaf certificate.
    pub key: PathBuf,
}

impl TlsFiles {
    /// The files to serve TLS with, from the interop flags: `--use_tls` needs both
    /// `--tls_cert_file` and `--tls_key_file` (no test certificate is built in), and the files
    /// without `--use_tls` are refused rather than ignored (the server would silently serve
    /// plaintext).
    pub fn from_flags(
        use_tls: bool,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
    ) -> Result<Option<Self>, String> {
        match (use_tls, cert, key) {
            (true, Some(cert), Some(key)) => Ok(Some(Self { cert, key })),
            (true, _, _) => Err(
                "--use_tls needs --tls_cert_file and --tls_key_file (PEM files of \
                 the server's certificate chain and private key; no test certificate is built in)"
                    .to_owned(),
            ),
            (false, None, None) => Ok(None),
            (false, _, _) => Err(
                "--tls_cert_file and --tls_key_file are only used with --use_tls=true".to_owned(),
            ),
        }
    }
}

/// Builds the server, ready to serve: `grpc.testing.TestService` (but not
/// `grpc.testing.UnimplementedService`, which must answer UNIMPLEMENTED),
/// `grpc.health.v1.Health` (reporting the test service `SERVING`), and gRPC reflection v1 and
/// v1alpha over both services' descriptors.
///
/// Fails on unreadable or invalid TLS files.
pub async fn router(tls: Option<&TlsFiles>) -> Result<Router, BoxError> {
    let test_service = TestServiceServer::new(InteropService).with_interceptors(interceptors());

    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<TestServiceServer<InteropService>>()
        .await;
    // The services served are named: by default reflection would advertise every service of
    // the descriptor set, `UnimplementedService` too, and only its own version of itself.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name(pb::test_service_methods::SERVICE_NAME)
            .with_service_name(HEALTH_SERVICE)
            .with_service_name(REFLECTION_V1)
            .with_service_name(REFLECTION_V1ALPHA)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;

    let mut builder = Server::builder();
    if let Some(files) = tls {
        builder = crate::tls::serve_tls(builder, &files.cert, &files.key)?;
    }
    Ok(builder
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(test_service))
}

/// The test service's server chain, outermost first: panics recovered (INTERNAL to the caller),
/// one log line per call (the echoed text metadata shown, other values redacted), and the
/// spec's metadata echo.
pub fn interceptors() -> Interceptors {
    Interceptors::new()
        .with_recovery(Recovery::new())
        .with_call(Logging::new().allow_metadata([ECHO_INITIAL.name()]))
        .with_call(EchoMetadata)
}

/// Serves `router` on `listener` until `shutdown` completes, then finishes the calls in flight.
pub async fn serve(
    router: Router,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), BoxError> {
    // Without TCP_NODELAY a small response can wait for the client's delayed ACK (~40 ms).
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    router
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}
