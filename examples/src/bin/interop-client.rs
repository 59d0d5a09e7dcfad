//! `interop-client`: runs gRPC's interop test cases against a `grpc.testing.TestService`
//! server, with the flags of gRPC's interop spec (plus grpc-go's `--ca_file`), and exits
//! non-zero when a case fails, naming it and what differed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use clap::builder::BoolishValueParser;
use greeter_examples::interop::cases::Selection;
use greeter_examples::interop::client::{self, ClientConfig};

/// Runs gRPC interop test cases against a grpc.testing.TestService server.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Host to connect to.
    #[arg(long = "server_host", default_value = "localhost")]
    server_host: String,
    /// Port to connect to.
    #[arg(long = "server_port", default_value_t = 10000)]
    server_port: u16,
    /// Host name to claim in TLS and `:authority` (default: --server_host).
    #[arg(long = "server_host_override", value_name = "HOSTNAME")]
    server_host_override: Option<String>,
    /// The case to run, or `all`.
    #[arg(long = "test_case", value_name = "CASE", default_value = "large_unary")]
    test_case: Selection,
    /// Connect over TLS.
    #[arg(
        long = "use_tls",
        value_name = "BOOLEAN",
        num_args = 0..=1,
        default_value = "false",
        default_missing_value = "true",
        value_parser = BoolishValueParser::new(),
    )]
    use_tls: bool,
    /// Trust the CA of --ca_file instead of the system's roots.
    #[arg(
        long = "use_test_ca",
        value_name = "BOOLEAN",
        num_args = 0..=1,
        default_value = "false",
        default_missing_value = "true",
        value_parser = BoolishValueParser::new(),
    )]
    use_test_ca: bool,
    /// PEM file of the test CA (with --use_test_ca).
    #[arg(long = "ca_file", value_name = "FILE")]
    ca_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = ClientConfig {
        server_host: args.server_host,
        server_port: args.server_port,
        server_host_override: args.server_host_override,
        use_tls: args.use_tls,
        use_test_ca: args.use_test_ca,
        ca_file: args.ca_file,
    };
    let clients = match client::connect(&config).await {
        Ok(clients) => clients,
        Err(error) => {
            eprintln!("interop-client: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = Vec::new();
    for &case in args.test_case.cases() {
        let started = Instant::now();
        match case.run(&clients).await {
            Ok(()) => println!("PASS {case} ({} ms)", started.elapsed().as_millis()),
            Err(failure) => {
                eprintln!("FAIL {case}: {failure}");
                failed.push(case.name());
            }
        }
    }
    if failed.is_empty() {
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "interop-client: {} failed: {}",
        plural(failed.len()),
        failed.join(", ")
    );
    ExitCode::FAILURE
}

fn plural(count: usize) -> String {
    match count {
        1 => "1 case".to_owned(),
        n => format!("{n} cases"),
    }
}
