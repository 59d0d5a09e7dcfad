//! `greeter-server`: serves the Greeter (plus gRPC health and reflection) until ctrl-c.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use greeter_examples::discovery::{self, EtcdConfig, Registered};
use greeter_examples::server::units::{parse_duration, parse_size};
use greeter_examples::server::{self, DEFAULT_LOCATION, DEFAULT_TOKEN, ServerConfig, Serving};
use tokio::net::TcpListener;

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
    /// Calls one connection may have open at once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS).
    #[arg(long, value_name = "N", default_value_t = server::DEFAULT_MAX_CONCURRENT_STREAMS,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_concurrent_streams: u32,
    /// Largest request message accepted (bytes, or with KiB/MiB); larger: the call fails.
    #[arg(long, value_name = "SIZE", default_value = "4MiB", value_parser = parse_size)]
    max_receive_message_size: usize,
    /// Largest response message sent (bytes, or with KiB/MiB); larger: the call fails.
    #[arg(long, value_name = "SIZE", default_value = "4MiB", value_parser = parse_size)]
    max_send_message_size: usize,
    /// Interval of HTTP/2 keepalive PINGs on every connection (0 = none).
    #[arg(long, value_name = "DUR", default_value = "60s", value_parser = parse_duration)]
    keepalive_interval: Duration,
    /// Close a connection whose peer leaves a keepalive PING unanswered this long.
    #[arg(long, value_name = "DUR", default_value = "20s", value_parser = parse_positive)]
    keepalive_timeout: Duration,
    /// Idle time before TCP keepalive probes (0 = none).
    #[arg(long, value_name = "DUR", default_value = "60s", value_parser = parse_duration)]
    tcp_keepalive: Duration,
    /// Longest a Greeter call may run, streams included: DEADLINE_EXCEEDED after it (0 = no
    /// limit beyond the client's own deadline).
    #[arg(long, value_name = "DUR", default_value = "0", value_parser = parse_duration)]
    max_call_duration: Duration,
    /// Register in etcd at this URL (repeatable) under a lease, so `greeter-client --etcd`
    /// finds this server; deregistered at ctrl-c. Needs the `etcd` feature.
    #[arg(long, value_name = "URL", value_delimiter = ',')]
    etcd: Vec<String>,
    /// Prefix of the etcd keys: `<prefix>/greeter.v1.Greeter/<instance id>`.
    #[arg(long, value_name = "PREFIX", default_value = discovery::DEFAULT_PREFIX)]
    etcd_prefix: String,
    /// TTL of the etcd lease: a server killed without deregistering disappears within it.
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = parse_positive)]
    etcd_ttl: Duration,
    /// Address registered in etcd for clients to dial (default: the listening address, which
    /// must then not be 0.0.0.0).
    #[arg(long, value_name = "HOST:PORT")]
    advertise: Option<SocketAddr>,
    /// This server's id among the registered ones (default: the advertised address).
    #[arg(long, value_name = "ID")]
    instance_id: Option<String>,
    /// Make SayHello panic when greeting NAME, to watch the server recover (INTERNAL to that
    /// caller, the panic logged, every other call served).
    #[arg(long, value_name = "NAME", hide = true)]
    panic_on: Option<String>,
}

/// A duration that must be more than zero.
fn parse_positive(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        zero if zero.is_zero() => Err("must be more than 0".to_owned()),
        duration => Ok(duration),
    }
}

/// `None` for a zero duration: the flags' way to say "off".
fn nonzero(duration: Duration) -> Option<Duration> {
    (!duration.is_zero()).then_some(duration)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let registry = (!args.etcd.is_empty()).then(|| Registry {
        etcd: EtcdConfig {
            endpoints: args.etcd.clone(),
            prefix: args.etcd_prefix.clone(),
            ttl: args.etcd_ttl,
        },
        advertise: args.advertise,
        instance_id: args.instance_id.clone(),
    });
    let config = ServerConfig {
        addr: args.addr,
        token: args.token,
        quota: args.quota,
        location: args.location,
        tls: args.tls_cert.zip(args.tls_key),
        panic_on: args.panic_on,
        serving: Serving {
            max_concurrent_streams: args.max_concurrent_streams,
            max_receive_message_size: args.max_receive_message_size,
            max_send_message_size: args.max_send_message_size,
            keepalive_interval: nonzero(args.keepalive_interval),
            keepalive_timeout: args.keepalive_timeout,
            tcp_keepalive: nonzero(args.tcp_keepalive),
            max_call_duration: nonzero(args.max_call_duration),
        },
    };
    // Call logs (one line per call) and recovered panics go to stderr; RUST_LOG overrides.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours only for a terminal, not in a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(config, registry).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("greeter-server: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The serving settings in one line, for whoever runs the server.
fn describe(serving: &Serving) -> String {
    let off = |setting: Option<Duration>, on: &dyn Fn(Duration) -> String| {
        setting.map_or_else(|| "off".to_owned(), on)
    };
    format!(
        "limits: {} streams per connection; messages up to {} bytes in, {} out; \
         HTTP/2 keepalive {}; TCP keepalive {}; maximum call duration {}",
        serving.max_concurrent_streams,
        serving.max_receive_message_size,
        serving.max_send_message_size,
        off(serving.keepalive_interval, &|interval| format!(
            "every {interval:?} (timeout {:?})",
            serving.keepalive_timeout
        )),
        off(serving.tcp_keepalive, &|idle| format!(
            "after {idle:?} idle"
        )),
        off(serving.max_call_duration, &|max| format!("{max:?}")),
    )
}

/// Where and how to register in etcd (`--etcd`).
struct Registry {
    etcd: EtcdConfig,
    advertise: Option<SocketAddr>,
    instance_id: Option<String>,
}

async fn run(config: ServerConfig, registry: Option<Registry>) -> Result<(), server::BoxError> {
    if registry.is_some() {
        discovery::available()?;
    }
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
    println!("{}", describe(&config.serving));
    let registered = match registry {
        Some(registry) => {
            let address = registry.advertise.unwrap_or(listener.local_addr()?);
            let id = registry.instance_id.unwrap_or_else(|| address.to_string());
            let registered =
                discovery::register(&registry.etcd, &id, address, &config.location).await?;
            println!(
                "registered in etcd at {} as {} (lease TTL {:?})",
                registry.etcd.endpoints.join(","),
                registered.key(),
                registry.etcd.ttl
            );
            Some(registered)
        }
        None => None,
    };
    let shutdown = async {
        server::ctrl_c().await;
        deregister(registered).await;
    };
    server::serve_router(router, &config, listener, shutdown).await?;
    println!("greeter-server stopped");
    Ok(())
}

/// Leaves etcd before the server stops, so clients stop sending calls here first.
async fn deregister(registered: Option<Registered>) {
    let Some(registered) = registered else { return };
    let key = registered.key().to_owned();
    match registered.deregister().await {
        Ok(()) => println!("deregistered {key} from etcd"),
        Err(error) => {
            eprintln!("greeter-server: cannot deregister {key} ({error}); it expires by itself")
        }
    }
}
