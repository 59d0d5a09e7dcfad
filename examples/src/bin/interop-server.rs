//! `interop-server`: gRPC's interop test server (`grpc.testing.TestService`), with the flags of
//! gRPC's interop spec, plus grpc-go's for the certificate files.

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use clap::builder::BoolishValueParser;
use greeter_examples::interop::server::{self, BoxError, DEFAULT_PORT, TlsFiles};
use tokio::net::TcpListener;

/// Serves grpc.testing.TestService (gRPC's interop tests), gRPC health and reflection.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Port to listen on; 0 picks a free one (the startup line names it).
    #[arg(long = "port", default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Address to listen on.
    #[arg(long = "bind_host", default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    bind_host: IpAddr,
    /// Serve TLS (needs --tls_cert_file and --tls_key_file).
    #[arg(
        long = "use_tls",
        value_name = "BOOLEAN",
        num_args = 0..=1,
        default_value = "false",
        default_missing_value = "true",
        value_parser = BoolishValueParser::new(),
    )]
    use_tls: bool,
    /// PEM certificate chain to serve TLS with.
    #[arg(long = "tls_cert_file", value_name = "FILE")]
    tls_cert_file: Option<PathBuf>,
    /// PEM private key of --tls_cert_file.
    #[arg(long = "tls_key_file", value_name = "FILE")]
    tls_key_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // One log line per call on stderr; RUST_LOG overrides.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours only for a terminal, not in a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("interop-server: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), BoxError> {
    let tls = TlsFiles::from_flags(args.use_tls, args.tls_cert_file, args.tls_key_file)?;
    let router = server::router(tls.as_ref()).await?;
    let addr = SocketAddr::new(args.bind_host, args.port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|error| format!("cannot listen on {addr}: {error}"))?;
    let security = if tls.is_some() { "TLS" } else { "plaintext" };
    // Scripts and tests read the port from this line (`--port 0` picks a free one).
    println!(
        "interop-server: listening on port {} of {} ({security}; ctrl-c stops)",
        listener.local_addr()?.port(),
        args.bind_host,
    );
    server::serve(router, listener, ctrl_c()).await?;
    println!("interop-server: stopped");
    Ok(())
}

/// Completes on ctrl-c; never, if the signal cannot be watched.
async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
