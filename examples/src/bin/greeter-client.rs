//! `greeter-client`: calls the Greeter once per command and prints replies, metadata and errors.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use greeter_examples::client::{
    self, ClientConfig, DEFAULT_ADDR, DEFAULT_NAME, DEFAULT_TOKEN, GreeterClient, parse_duration,
    report,
};
use greeter_examples::discovery::{self, EtcdConfig};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Status};

/// Calls greeter.v1.Greeter.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Server URL.
    #[arg(long, default_value = DEFAULT_ADDR)]
    addr: String,
    /// Name to greet.
    #[arg(long, default_value = DEFAULT_NAME)]
    name: String,
    /// Bearer token to present.
    #[arg(long, env = "GREETER_TOKEN", default_value = DEFAULT_TOKEN, hide_env_values = true)]
    token: String,
    /// PEM file of the CA that signed the server certificate: turns TLS on (an http:// --addr
    /// is dialed as https://). Required for TLS: no system roots are trusted.
    #[arg(long)]
    tls_ca: Option<PathBuf>,
    /// Name the server certificate must be valid for (turns TLS on).
    #[arg(long)]
    tls_domain: Option<String>,
    /// Deadline of each call, streams included (500ms, 5s, 1m; 0 = none); a call still running
    /// then ends DEADLINE_EXCEEDED. For `bidi`, the time the server has to answer each line.
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_duration)]
    timeout: Duration,
    /// Call the servers registered in etcd at this URL (repeatable) instead of --addr, spreading
    /// calls over them. Needs the `etcd` feature.
    #[arg(long, value_name = "URL", value_delimiter = ',')]
    etcd: Vec<String>,
    /// Prefix of the etcd keys the servers registered under.
    #[arg(long, value_name = "PREFIX", default_value = discovery::DEFAULT_PREFIX)]
    etcd_prefix: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Unary: one greeting (each name has a quota).
    SayHello,
    /// Server streaming: greetings in four languages.
    LotsOfReplies,
    /// Client streaming: send the names, get one greeting for all (default: --name).
    LotsOfGreetings {
        /// Names to send.
        names: Vec<String>,
    },
    /// Bidi streaming: chat; sends each stdin line, prints `AI：<reply>`, stops at QUIT or end
    /// of input. The chat may last as long as you type; --timeout bounds each answer.
    Bidi,
    /// Every command above, one after the other.
    All,
}

/// Why the command failed: the call's status (already printed) or a setup error.
enum Failure {
    Call(Status),
    /// A failed SayHello, whose declared errors the contract reads.
    SayHello(Status),
    Other(String),
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(error: E) -> Self {
        Self::Other(error.to_string())
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let timeout = args.timeout;
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("greeter-client: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(args));
    // Do not wait for a stdin read still blocked in the background (bidi ended by the server).
    runtime.shutdown_background();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Call(status)) => {
            print_failure(&report::describe_status(&status), &status, timeout);
            ExitCode::FAILURE
        }
        Err(Failure::SayHello(status)) => {
            print_failure(&report::describe_say_hello_error(&status), &status, timeout);
            ExitCode::FAILURE
        }
        Err(Failure::Other(message)) => {
            eprintln!("greeter-client: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a failed call's `lines` on stderr, with a hint when it ran out of time.
fn print_failure(lines: &[String], status: &Status, timeout: Duration) {
    for line in lines {
        eprintln!("{line}");
    }
    if status.code() == Code::DeadlineExceeded && !timeout.is_zero() {
        eprintln!("  (--timeout {timeout:?}; give a longer one, or 0 for none)");
    }
}

async fn run(args: Args) -> Result<(), Failure> {
    let config = ClientConfig {
        addr: args.addr,
        name: args.name,
        token: args.token,
        tls_ca: args.tls_ca,
        tls_domain: args.tls_domain,
        timeout: (!args.timeout.is_zero()).then_some(args.timeout),
    };
    let out = &mut io::stdout().lock();
    let mut client = if args.etcd.is_empty() {
        match args.command {
            // The chat bounds each answer, not the whole call (see `client::chat`).
            Command::Bidi => {
                let (channel, origin) = client::open_channel(&config).await?;
                client::with_credentials(channel, origin, &config.token)?
            }
            _ => client::connect(&config).await?,
        }
    } else {
        let mut etcd = EtcdConfig::new(args.etcd);
        etcd.prefix = args.etcd_prefix;
        let mut config = config.clone();
        if matches!(args.command, Command::Bidi) {
            config.timeout = None;
        }
        discovery::connect(&etcd, &config).await?
    };
    let name = config.name.as_str();
    let lines = match args.command {
        Command::SayHello => client::say_hello(&mut client, name)
            .await
            .map_err(Failure::SayHello)?
            .lines("reply: "),
        Command::LotsOfReplies => {
            let replies = client::lots_of_replies_stream(&mut client, name)
                .await
                .map_err(Failure::Call)?;
            client::print_replies(replies, "reply: ", out)
                .await?
                .map_err(Failure::Call)?;
            return Ok(());
        }
        Command::LotsOfGreetings { mut names } => {
            if names.is_empty() {
                names.push(config.name.clone());
            }
            client::lots_of_greetings(&mut client, names)
                .await
                .map_err(Failure::Call)?
                .lines("reply: ")
        }
        Command::Bidi => return chat(&mut client, config.timeout, out).await,
        Command::All => {
            let failures = client::all(&mut client, name, out).await?;
            if failures.is_empty() {
                return Ok(());
            }
            let failed: Vec<&str> = failures.iter().map(|(command, _)| *command).collect();
            return Err(Failure::Other(format!("failed: {}", failed.join(", "))));
        }
    };
    client::write_lines(out, &lines)?;
    Ok(())
}

/// Sends stdin line by line (up to `QUIT`) and prints each answer as it arrives; the server
/// has `answer_timeout` to answer each line.
async fn chat(
    client: &mut GreeterClient,
    answer_timeout: Option<Duration>,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let (sender, receiver) = mpsc::channel(16);
    tokio::spawn(async move {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        loop {
            match lines.next_line().await {
                Ok(Some(line)) if line.trim() == "QUIT" => break,
                Ok(Some(line)) => {
                    let line = line.trim_end_matches('\r').to_owned();
                    if sender.send(line).await.is_err() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    eprintln!("greeter-client: cannot read stdin: {error}");
                    break;
                }
            }
        }
    });
    let lines = ReceiverStream::new(receiver);
    client::chat(client, lines, answer_timeout, out)
        .await?
        .map_err(Failure::Call)
}
