//! `greeter-bench compile`: how long the generated code takes to compile, ours against
//! tonic-prost-build's, for the same protos (the Greeter and a mid-size generated corpus).
//!
//! Both generators write into a crate of their own in one scratch workspace that shares
//! `Cargo.lock` with this repository (so the same tonic and prost versions) and builds its
//! dependencies once. Each round then cleans one generated crate alone and times its release
//! build, the two crates alternating which goes first.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::corpus::{Scale, SizeArgs};
use crate::measure::{self, Usage};
use crate::plugin::corpora::{self, Corpus, Protoc, Source, bench_dir};
use crate::plugin::variants::{build_rs_command, build_rs_includes};
use crate::stats::{RatioSummary, median};

/// Flags of `greeter-bench compile`.
#[derive(clap::Args)]
pub struct Args {
    /// A run of seconds that checks the harness works (the Greeter proto only, one round);
    /// times nothing worth reporting.
    #[arg(long)]
    pub quick: bool,
    /// Interleaved rounds (each builds both generated crates once).
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Compile the Greeter proto only, without the generated corpus.
    #[arg(long)]
    pub greeter_only: bool,
    #[command(flatten)]
    pub size: SizeArgs,
    /// Caches and the scratch workspace [default: bench/.cache].
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

/// One generated crate.
struct Crate {
    /// The generator (as `build-rs-child --tool` names it).
    tool: &'static str,
    package: &'static str,
    label: &'static str,
}

const CRATES: [Crate; 2] = [
    Crate {
        tool: "greeter",
        package: "gen-greeter",
        label: "protoc-gen-greeter",
    },
    Crate {
        tool: "tonic-prost-build",
        package: "gen-tonic",
        label: "tonic-prost-build",
    },
];

const GOAL: f64 = 1.1;

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let cache = args
        .cache_dir
        .clone()
        .unwrap_or_else(|| bench_dir().join(".cache"));
    let rounds = args.rounds.unwrap_or(if args.quick { 1 } else { 3 }).max(1);
    let protoc = Protoc::vendored()?;
    let corpus = protos(&args, &cache, &protoc)?;
    let ws = cache.join("compile");
    println!("# greeter-bench compile\n");
    println!("- protos: {}", corpus.summary);
    println!("- rounds: {rounds}, release builds of the generated crate alone, order alternating");

    scaffold(&ws)?;
    let files_list = ws.join("files.txt");
    let paths: Vec<String> = corpus
        .paths()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    std::fs::write(&files_list, paths.join("\n") + "\n")?;
    let logs = ws.join("logs");
    let mut generated = Vec::new();
    for krate in &CRATES {
        let out = ws.join(krate.package).join("src/gen");
        let _ = std::fs::remove_dir_all(&out);
        let includes = build_rs_includes(krate.tool, &corpus, &protoc);
        let mut command = build_rs_command(krate.tool, &includes, &files_list, &out)?;
        command.arg("--include-file").arg("mod.rs");
        if krate.tool == "tonic-prost-build" {
            command.env("PROTOC", &protoc.path);
        } else {
            command.env_remove("PROTOC");
        }
        measure::run_logged(&mut command, &logs, &format!("generate-{}", krate.package))?;
        generated.push(code_size(&out)?);
    }

    eprintln!("building the dependencies and both generated crates once");
    measure::run_logged(
        &mut cargo(&ws, &["build", "--release", "--workspace"]),
        &logs,
        "warm-up",
    )?;

    let mut samples: [Vec<Usage>; 2] = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        for step in 0..CRATES.len() {
            let index = (round + step) % CRATES.len();
            let krate = &CRATES[index];
            eprintln!("round {}/{rounds}: {}", round + 1, krate.label);
            let clean = ["clean", "--release", "-p", krate.package];
            measure::run_logged(&mut cargo(&ws, &clean), &logs, "clean")?;
            let build = ["build", "--release", "-p", krate.package];
            samples[index].push(measure::run_logged(
                &mut cargo(&ws, &build),
                &logs,
                "build",
            )?);
        }
    }
    println!("\n{}", report(&samples, &generated));
    Ok(())
}

/// The Greeter proto, plus (unless quick or --greeter-only) the generated corpus.
fn protos(args: &Args, cache: &Path, protoc: &Protoc) -> io::Result<Corpus> {
    let proto_root = bench_dir().join("../proto");
    let greeter = "greeter/v1/greeter.proto".to_owned();
    if args.quick || args.greeter_only {
        return Ok(Corpus {
            name: "greeter".to_owned(),
            includes: vec![proto_root, protoc.include.clone()],
            files: vec![greeter.clone()],
            excluded: Vec::new(),
            summary: greeter,
        });
    }
    let spec = args.size.spec(Scale::Medium);
    let mut corpus = corpora::load(&Source::Generated, spec, cache, protoc)?;
    corpus.includes.insert(0, proto_root);
    corpus.files.insert(0, greeter.clone());
    corpus.summary = format!("{greeter} and the {}", corpus.summary);
    Ok(corpus)
}

/// The scratch workspace: two library crates including `src/gen/mod.rs`, with this
/// repository's lock file so the dependency versions are the ones the project uses.
fn scaffold(ws: &Path) -> io::Result<()> {
    std::fs::create_dir_all(ws)?;
    let members: Vec<String> = CRATES
        .iter()
        .map(|c| format!("\"{}\"", c.package))
        .collect();
    std::fs::write(
        ws.join("Cargo.toml"),
        format!(
            "[workspace]\nresolver = \"3\"\nmembers = [{}]\n",
            members.join(", ")
        ),
    )?;
    let lock = bench_dir().join("../Cargo.lock");
    if !ws.join("Cargo.lock").exists() {
        std::fs::copy(&lock, ws.join("Cargo.lock"))?;
    }
    let runtime = bench_dir().join("../runtime").canonicalize()?;
    for krate in &CRATES {
        let dir = ws.join(krate.package);
        std::fs::create_dir_all(dir.join("src"))?;
        // The same dependencies for both, so that only the generated code differs.
        let manifest = format!(
            "[package]\nname = \"{}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\ngreeter-runtime = {{ path = \"{}\" }}\ntonic = \"0.14\"\n\
             tonic-prost = \"0.14\"\nprost = \"0.14\"\nprost-types = \"0.14\"\n",
            krate.package,
            runtime.display()
        );
        std::fs::write(dir.join("Cargo.toml"), manifest)?;
        std::fs::write(
            dir.join("src/lib.rs"),
            format!(
                "//! Code generated by {} for `greeter-bench compile`.\n\
                 #![allow(warnings, clippy::all)]\n\ninclude!(\"gen/mod.rs\");\n",
                krate.label
            ),
        )?;
    }
    Ok(())
}

fn cargo(ws: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .args(args)
        .current_dir(ws)
        .env("CARGO_TARGET_DIR", ws.join("target"));
    command
}

/// Lines and bytes of the generated `.rs` files.
fn code_size(dir: &Path) -> io::Result<(usize, u64)> {
    let mut lines = 0;
    let mut bytes = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "rs") {
            let text = std::fs::read_to_string(&path)?;
            lines += text.lines().count();
            bytes += text.len() as u64;
        }
    }
    Ok((lines, bytes))
}

fn report(samples: &[Vec<Usage>; 2], generated: &[(usize, u64)]) -> String {
    let mut out = String::from(
        "| generated by | code | build wall | CPU | peak RSS |\n| --- | ---: | ---: | ---: | ---: |\n",
    );
    let wall = |s: &[Usage]| s.iter().map(|u| u.wall.as_secs_f64()).collect::<Vec<_>>();
    for ((krate, usages), (lines, bytes)) in CRATES.iter().zip(samples).zip(generated) {
        let cpu: Vec<f64> = usages.iter().map(|u| u.cpu().as_secs_f64()).collect();
        let rss: Vec<f64> = usages
            .iter()
            .map(|u| u.max_rss_kib as f64 / 1024.0)
            .collect();
        let _ = writeln!(
            out,
            "| {} | {lines} lines, {:.2} MB | {:.2} s | {:.2} s | {:.0} MiB |",
            krate.label,
            *bytes as f64 / 1e6,
            median(&wall(usages)),
            median(&cpu),
            median(&rss),
        );
    }
    let ratio = RatioSummary::of(&wall(&samples[0]), &wall(&samples[1]));
    let verdict = if ratio.median <= GOAL {
        "met"
    } else {
        "missed"
    };
    let _ = write!(
        out,
        "\n| ratio | median (IQR) of per-round ratios | goal | |\n| --- | ---: | ---: | --- |\n\
         | greeter build wall / tonic-prost-build build wall | {ratio} | ≤ {GOAL} | {verdict} |\n"
    );
    out
}
