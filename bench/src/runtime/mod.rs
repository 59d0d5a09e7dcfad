//! `greeter-bench runtime`: the same Greeter handlers served five ways in one process, loaded
//! over loopback in all four streaming modes, in interleaved rounds whose order rotates.
//!
//! The server thread runs a current-thread runtime pinned to one core and serves every variant
//! on its own port; the load generator runs on another pinned core with its own current-thread
//! runtime and the same tonic client for every variant. Figures are medians over rounds, and
//! comparisons are medians of the round-by-round (paired) ratios, so a round slowed by the
//! machine slows both sides of its ratio.

pub mod allocations;
mod floor;
mod h2load;
mod handlers;
mod load;
pub mod pb;
mod plan;
mod report;
mod server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use handlers::Link;
use load::{Fixture, LoadConfig};
use plan::{Mode, Variant};
use report::{Results, Sample};
use server::Servers;

/// Flags of `greeter-bench runtime`.
#[derive(clap::Args)]
pub struct Args {
    /// A run of seconds that checks the harness works (2 rounds of 0.25 s windows); times
    /// nothing worth reporting.
    #[arg(long)]
    pub quick: bool,
    /// Rounds; each runs every mode × variant window once, in an order rotated per round
    /// [default: 12, --quick: 2].
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Seconds of each measured window [default: 1, --quick: 0.25].
    #[arg(long)]
    pub duration: Option<f64>,
    /// Seconds of load before each window is measured [default: 0.3, --quick: 0.1].
    #[arg(long)]
    pub warmup: Option<f64>,
    /// Modes to load, comma-separated: unary, server-streaming, client-streaming, bidi
    /// [default: all].
    #[arg(long, value_delimiter = ',')]
    pub modes: Vec<Mode>,
    /// Variants to serve, comma-separated: tonic (a), greeter (b), greeter-chain (c),
    /// tonic-intercepted (d), floor (e) [default: all]. Ratios need (a) and (e).
    #[arg(long, value_delimiter = ',')]
    pub variants: Vec<Variant>,
    /// HTTP/2 connections the load generator opens per window.
    #[arg(long, default_value_t = 2)]
    pub connections: usize,
    /// Calls in flight on each connection.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Request messages per LotsOfGreetings and BidiHello call.
    #[arg(long, default_value_t = 16)]
    pub stream_len: usize,
    /// Do not pin the server and the load generator to their own cores.
    #[arg(long)]
    pub no_pin: bool,
    /// Skip the h2load cross-check even when h2load is installed.
    #[arg(long)]
    pub no_h2load: bool,
    /// The interceptors of (c), to measure what each costs (default: the whole standard chain).
    #[arg(long, value_delimiter = ',')]
    pub chain: Vec<Link>,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let rounds = args.rounds.unwrap_or(if args.quick { 2 } else { 12 });
    let seconds = |value: Option<f64>, full, quick| {
        Duration::from_secs_f64(value.unwrap_or(if args.quick { quick } else { full }))
    };
    let config = LoadConfig {
        connections: args.connections,
        concurrency: args.concurrency,
        warmup: seconds(args.warmup, 0.3, 0.1),
        duration: seconds(args.duration, 1.0, 0.25),
        stream_len: args.stream_len,
    };
    if rounds == 0 || config.connections == 0 || config.concurrency == 0 || config.stream_len == 0 {
        return Err(
            "--rounds, --connections, --concurrency and --stream-len must be at least 1".into(),
        );
    }
    if config.duration.is_zero() {
        return Err("--duration must be positive".into());
    }
    let modes = selected(&args.modes, &Mode::ALL);
    let variants = selected(&args.variants, &Variant::ALL);

    let cpus = server::allowed_cpus()?;
    let (server_cpu, load_cpu, pinning) = match cpus.as_slice() {
        _ if args.no_pin => (None, None, "not pinned (--no-pin)".to_owned()),
        [server, load, ..] => (
            Some(*server),
            Some(*load),
            format!("server thread on CPU {server}, load generator on CPU {load}"),
        ),
        _ => (
            None,
            None,
            format!("not pinned: only {} CPU available", cpus.len()),
        ),
    };

    let links = selected(&args.chain, &Link::ALL);
    let servers = Servers::start(server_cpu, links.clone())?;
    if let Some(cpu) = load_cpu {
        server::pin(0, cpu)?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;

    println!(
        "## greeter-bench runtime{}\n",
        if args.quick { " --quick" } else { "" }
    );
    if args.quick {
        println!("Quick run: checks the harness works; its figures are not measurements.\n");
    }
    println!(
        "{rounds} rounds × {} modes × {} variants, windows of {:?} after {:?} warm-up; \
         {} connections × {} calls in flight; {} messages per client/bidi stream; {pinning}; \
         (c) chain: {}; load average at start {}.\n",
        modes.len(),
        variants.len(),
        config.duration,
        config.warmup,
        config.connections,
        config.concurrency,
        config.stream_len,
        links
            .iter()
            .map(|link| format!("{link:?}").to_lowercase())
            .collect::<Vec<_>>()
            .join(" → "),
        load_average(),
    );

    let fixture = Arc::new(Fixture::new(config.stream_len));
    let started = Instant::now();
    let results = runtime.block_on(async {
        // One checked call of every mode on every variant before anything is timed.
        for &variant in &variants {
            let mut client = load::connect(servers.addrs[&variant]).await?;
            for &mode in &modes {
                load::call_once(&mut client, mode, &fixture)
                    .await
                    .map_err(|e| format!("{variant}, {mode}: {e}"))?;
            }
        }
        let mut results = Results::default();
        for round in 0..rounds {
            eprint!("round {}/{rounds}…", round + 1);
            for (mode, variant) in plan::schedule(round, &modes, &variants) {
                let window = load::measure(
                    servers.addrs[&variant],
                    mode,
                    &config,
                    &fixture,
                    servers.cpu,
                )
                .await
                .map_err(|e| format!("{variant}, {mode}: {e}"))?;
                results.add(mode, variant, Sample::of(&window));
            }
            eprintln!(" done ({:.0?} so far)", started.elapsed());
        }
        Ok::<_, String>(results)
    })?;

    println!("{}", results.tables(&modes, &variants));
    println!(
        "Throughput and latency are medians over rounds; `vs` columns are medians of per-round \
         paired ratios with their interquartile range. Server CPU is the server thread's CPU \
         clock over the window divided by what completed in it; \"busy\" is the share of the \
         window a thread was on its core: server busy well below 100% with client busy near it \
         means the load generator, not the server, set the pace (throughput ratios then say \
         little, server CPU per call still does); both well below it means other processes \
         took the cores (see the load average).\n"
    );
    println!("Load average at the end: {}.\n", load_average());
    let goals = results.goals();
    // The header and its rule alone: the selection measured no goal.
    if goals.lines().count() > 2 {
        println!("### Goals (medians of paired ratios against (a))\n");
        println!("{goals}");
    }
    if !args.no_h2load && modes.contains(&Mode::Unary) {
        // Half as many rounds as the main run: each h2load run is seconds long.
        cross_check(&servers, &variants, &config, load_cpu, rounds.div_ceil(2));
    }
    drop(runtime);
    drop(servers);
    Ok(())
}

/// `chosen`, or every item when none was chosen, in the canonical order without repeats.
fn selected<T: Copy + Ord>(chosen: &[T], all: &[T]) -> Vec<T> {
    let mut items = if chosen.is_empty() {
        all.to_vec()
    } else {
        chosen.to_vec()
    };
    items.sort();
    items.dedup();
    items
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// h2load against every selected variant's unary method, in rounds with the order rotated:
/// a light C client, so throughput is set by the server (the run's own tonic load generator can
/// be the bottleneck itself; see the "busy" columns).
fn cross_check(
    servers: &Servers,
    variants: &[Variant],
    config: &LoadConfig,
    cpu: Option<usize>,
    rounds: usize,
) {
    println!("### h2load cross-check (unary)\n");
    let Some(path) = h2load::find() else {
        println!(
            "h2load not found on PATH (Debian package `nghttp2-client`): cross-check skipped.\n"
        );
        return;
    };
    let settings = h2load::H2load {
        connections: config.connections,
        concurrency: config.concurrency,
        warmup: config.warmup,
        duration: config.duration,
        cpu,
    };
    let mut rates: std::collections::BTreeMap<Variant, Vec<f64>> = Default::default();
    let mut statuses: std::collections::BTreeMap<Variant, String> = Default::default();
    for round in 0..rounds {
        for variant in plan::rotated(variants, round) {
            match settings.run(&path, servers.addrs[&variant]) {
                Ok((rate, status)) => {
                    rates.entry(variant).or_default().push(rate);
                    statuses.insert(variant, status);
                }
                Err(error) => {
                    rates.entry(variant).or_default().push(f64::NAN);
                    statuses.insert(variant, format!("failed: {}", error.replace('\n', " ")));
                }
            }
        }
    }
    println!(
        "{rounds} rounds, order rotated. h2load counts HTTP statuses only (a gRPC rejection is \
         still HTTP 200); every call of the run's own load generator above checked \
         `grpc-status` and the reply.\n"
    );
    println!(
        "| variant | h2load req/s (median) | req/s vs (a) | h2load statuses (last round) |\n\
         |---|---:|---:|---|"
    );
    let baseline = rates.get(&Variant::Tonic).cloned();
    for variant in variants {
        let Some(series) = rates.get(variant) else {
            continue;
        };
        let ratio = baseline.as_ref().map_or_else(
            || "–".to_owned(),
            |baseline| crate::stats::RatioSummary::of(series, baseline).to_string(),
        );
        println!(
            "| {variant} | {:.0} | {ratio} | {} |",
            crate::stats::median(series),
            statuses.get(variant).map_or("", String::as_str)
        );
    }
    println!();
}
