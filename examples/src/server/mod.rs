//! The Greeter server: [`GreeterService`] behind the standard server chain ([`interceptors`]:
//! recovery, logging, bearer-token auth, validation), next to gRPC health and reflection, over
//! plain TCP or TLS, with bounded streams, message sizes and keepalives ([`Serving`]).

mod quota;
mod service;
mod serving;
pub mod text;
pub mod units;

use std::error::Error;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use greeter_runtime::Interceptors;
use greeter_runtime::interceptors::{
    BearerAuth, Logging, MaxDeadline, Recovery, Validate, Validation, Violations,
};
use tokio::net::TcpListener;
use tonic::transport::server::Router;

pub use quota::Quota;
pub use service::{GreeterService, QUOTA_EXCEEDED_MESSAGE, ResponseStream};
pub use serving::{
    DEFAULT_KEEPALIVE_INTERVAL, DEFAULT_KEEPALIVE_TIMEOUT, DEFAULT_MAX_CONCURRENT_STREAMS,
    DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_TCP_KEEPALIVE, Serving, TLS_HANDSHAKE_TIMEOUT,
};

use crate::pb::{self, greeter_server::GreeterServer};

/// Errors of setting up or running the server.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// Default address the server listens on.
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 50051);
/// Default bearer token clients must present.
pub const DEFAULT_TOKEN: &str = "some-secret-token";
/// Default number of `SayHello` calls allowed per name.
pub const DEFAULT_QUOTA: u32 = 1;
/// Default value of the `location` response header.
pub const DEFAULT_LOCATION: &str = "BeiJing";

/// How to run the server. [`Default`] gives the documented defaults of `greeter-server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address to listen on (used by [`serve`], not by [`serve_with_listener`]).
    pub addr: SocketAddr,
    /// Token every Greeter call must carry as `authorization: Bearer <token>`.
    pub token: String,
    /// `SayHello` calls allowed per name; `0` means unlimited.
    pub quota: u32,
    /// Value of the `location` response header.
    pub location: String,
    /// PEM files `(certificate chain, private key)` to serve TLS with; `None` serves plaintext.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// A name `SayHello` panics on, to show panic recovery (`--panic-on`, hidden).
    pub panic_on: Option<String>,
    /// Stream limit, message sizes and keepalives of every connection.
    pub serving: Serving,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: DEFAULT_ADDR,
            token: DEFAULT_TOKEN.to_owned(),
            quota: DEFAULT_QUOTA,
            location: DEFAULT_LOCATION.to_owned(),
            tls: None,
            panic_on: None,
            serving: Serving::default(),
        }
    }
}

/// Binds `config.addr` and serves until ctrl-c.
pub async fn serve(config: ServerConfig) -> Result<(), BoxError> {
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", config.addr))?;
    serve_with_listener(config, listener, ctrl_c()).await
}

/// A server serving in the background on a free loopback port, as the demo and the tests run
/// it. Dropping it stops it too, but only [`stop`](Self::stop) says how serving ended.
#[derive(Debug)]
pub struct LocalServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<Result<(), BoxError>>,
}

impl LocalServer {
    /// Serves `config` on a free port of 127.0.0.1 (its `addr` becomes that address).
    pub async fn start(config: ServerConfig) -> Result<Self, BoxError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config = ServerConfig { addr, ..config };
        let serving = tokio::spawn(serve_with_listener(config, listener, async {
            // A dropped sender stops the server too.
            let _ = stopped.await;
        }));
        Ok(Self {
            addr,
            stop,
            serving,
        })
    }

    /// Stops the server, lets the calls in flight finish, and returns how serving ended.
    pub async fn stop(self) -> Result<(), BoxError> {
        drop(self.stop);
        self.serving.await?
    }
}

/// Completes on ctrl-c (SIGINT); never completes if the signal cannot be watched.
pub async fn ctrl_c() {
    if let Err(error) = tokio::signal::ctrl_c().await {
        tracing::warn!(%error, "cannot watch for ctrl-c; serving until killed");
        std::future::pending::<()>().await;
    }
}

/// Serves on `listener` until `shutdown` completes, then finishes the calls in flight.
///
/// Serves what [`router`] builds; `config.addr` is ignored since the listener is already bound.
pub async fn serve_with_listener(
    config: ServerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), BoxError> {
    let router = router(&config).await?;
    serve_router(router, &config, listener, shutdown).await
}

/// Serves `router` (built by [`router`] from `config`) on `listener` until `shutdown`
/// completes, with the TCP settings of `config.serving`.
pub async fn serve_router(
    router: Router,
    config: &ServerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), BoxError> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(
            %addr,
            tls = config.tls.is_some(),
            serving = ?config.serving,
            "serving greeter.v1.Greeter"
        );
    }
    router
        .serve_with_incoming_shutdown(config.serving.incoming(listener), shutdown)
        .await?;
    Ok(())
}

/// Checks `config` and builds the server, ready to serve: `greeter.v1.Greeter` (every call
/// needs the bearer token), `grpc.health.v1.Health` (reporting the Greeter `SERVING`),
/// `grpc.reflection.v1.ServerReflection` and `grpc.reflection.v1alpha.ServerReflection` (which
/// grpcio-reflection's client and many tools still speak). Health and reflection need no token,
/// as load balancers and tools such as `grpcurl` expect.
///
/// Every connection gets the limits and keepalives of `config.serving`; the Greeter also its
/// message size limits and maximum call duration.
///
/// Fails on unreadable or invalid TLS files, or serving settings that cannot work.
pub async fn router(config: &ServerConfig) -> Result<Router, BoxError> {
    config.serving.check()?;
    let greeter = GreeterService::new(config.location.clone(), config.quota)
        .panic_on(config.panic_on.clone());
    let greeter = GreeterServer::new(greeter)
        .with_interceptors(interceptors(config))
        .max_decoding_message_size(config.serving.max_receive_message_size)
        .max_encoding_message_size(config.serving.max_send_message_size);

    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<GreeterServer<GreeterService>>()
        .await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            // google.rpc's status and error details, so a tool decodes the details the
            // Greeter's errors carry (grpcurl prints the QuotaFailure, not its bytes).
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;

    let mut builder = config.serving.builder();
    if let Some((cert, key)) = &config.tls {
        builder = crate::tls::serve_tls(builder, cert, key)?;
    }
    Ok(builder
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(greeter))
}

/// The Greeter's server chain, outermost first: panics recovered (INTERNAL to the caller, the
/// panic logged), one log line per call (request metadata redacted but for `client-os` and
/// `request-id`), the server's maximum call duration if it has one, the bearer token checked on
/// the request head (before the body is read), then every `HelloRequest` validated before a
/// handler sees it (INVALID_ARGUMENT with a `google.rpc.BadRequest` listing each bad field).
pub fn interceptors(config: &ServerConfig) -> Interceptors {
    let mut chain = Interceptors::new()
        .with_recovery(Recovery::new())
        .with_call(Logging::new().allow_metadata(["client-os", "request-id"]));
    if let Some(max) = config.serving.max_call_duration {
        chain = chain.with_head(MaxDeadline::new(max));
    }
    chain
        .with_head(BearerAuth::new(config.token.clone()))
        .with_call(Validation::new().message::<pb::HelloRequest>())
}

/// The longest name the Greeter greets, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// A name is required and at most [`MAX_NAME_CHARS`] characters (not bytes: `张三` is two).
impl Validate for pb::HelloRequest {
    fn validate(&self, violations: &mut Violations) {
        violations.ensure(!self.name.is_empty(), "name", "must not be empty");
        let chars = self.name.chars().count();
        violations.ensure(
            chars <= MAX_NAME_CHARS,
            "name",
            format!("must be at most {MAX_NAME_CHARS} characters, not {chars}"),
        );
    }
}
