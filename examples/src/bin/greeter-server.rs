//! `greeter-server`: serves the Greeter (plus gRPC health and reflection) until ctrl-c.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use greeter_examples::server::{self, DEFAULT_LOCATION, DEFAULT_TOKEN, ServerConfig};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

/// Serves greeter.v1.Greeter, gRPC health and reflection.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:50051")]
    addr: SocketAddr,
    /// Bearer token every Greeter call must carry.
    #[arg(long, env = "GREETER_TOKEN", default_value = DEFAULT_TOKEN, hide_env_values = true)]
    token: String,
    /// SayHello calls allowed per name (0 = unlimited).
    #[arg(long, default_value_t = server::DEFAULT_QUOTA)]
    quota: u32,
    /// Value of the `location` response header.
    #[arg(long, default_value = DEFAULT_LOCATION)]
    location: String,
    /// PEM certificate chain: serve TLS (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Make SayHello panic when greeting NAME, to watch the server recover (INTERNAL to that
    /// caller, the panic logged, every other call served).
    #[arg(long, value_name = "NAME", hide = true)]
    panic_on: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = ServerConfig {
        addr: args.addr,
        token: args.token,
        quota: args.quota,
        location: args.location,
        tls: args.tls_cert.zip(args.tls_key),
        panic_on: args.panic_on,
    };
    // Call logs (one line per call) and recovered panics go to stderr; RUST_LOG overrides.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("greeter-server: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: ServerConfig) -> Result<(), server::BoxError> {
    let router = server::router(&config).await?;
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", config.addr))?;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let quota = match config.quota {
        0 => "unlimited".to_owned(),
        n => n.to_string(),
    };
    println!(
        "greeter-server listening on {scheme}://{} (location {}, SayHello quota {quota} per name; ctrl-c stops)",
        listener.local_addr()?,
        config.location,
    );
    router
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), server::ctrl_c())
        .await?;
    println!("greeter-server stopped");
    Ok(())
}
