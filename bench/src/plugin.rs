//! `greeter-bench plugin`: protoc + protoc-gen-greeter against protoc + protoc-gen-prost +
//! protoc-gen-tonic and against protoc alone, and build.rs generation (protox) against
//! tonic-prost-build, on a generated googleapis-sized corpus and on the protos of two PyPI
//! wheels. Each plugin process is measured on its own (wall, CPU, peak RSS) through a wrapper
//! that protoc starts in its place; every round runs every variant, the order rotating.

pub mod corpora;
mod report;
pub mod variants;

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use variants::{AnswerArgs, BuildRsArgs, answer_child, build_rs_child};

use crate::corpus::{Scale, SizeArgs};
use corpora::{Corpus, Protoc, Source, bench_dir};
use variants::{Sample, Tools, Variant};

/// Flags of `greeter-bench plugin`.
#[derive(clap::Args)]
pub struct Args {
    /// A run of seconds that checks the harness works (quick corpus, one round, peers only if
    /// already installed); times nothing worth reporting.
    #[arg(long)]
    pub quick: bool,
    /// Interleaved rounds (each runs every variant once, the order rotated).
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Corpora: `generated`, `pypi` (downloaded by scripts/fetch-corpora.sh) or `dir:PATH`;
    /// repeatable [default: generated and pypi; with --quick: generated].
    #[arg(long = "corpus")]
    pub corpora: Vec<Source>,
    #[command(flatten)]
    pub size: SizeArgs,
    /// Also compare services-only generation: greeter messages=false against tonic alone.
    #[arg(long)]
    pub services_only: bool,
    /// Options for protoc-gen-greeter (`--greeter_opt`), e.g. `rustfmt` [default: none].
    #[arg(long)]
    pub greeter_opt: Option<String>,
    /// Leave out the build.rs variants.
    #[arg(long)]
    pub no_build_rs: bool,
    /// The protoc-gen-greeter binary [default: beside greeter-bench].
    #[arg(long)]
    pub plugin_path: Option<PathBuf>,
    /// Where protoc-gen-prost and protoc-gen-tonic are (installed by scripts/install-peers.sh
    /// when missing) [default: bench/.tools/bin].
    #[arg(long)]
    pub peers_dir: Option<PathBuf>,
    /// Caches, corpora and outputs [default: bench/.cache].
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let cache = args
        .cache_dir
        .clone()
        .unwrap_or_else(|| bench_dir().join(".cache"));
    let rounds = args.rounds.unwrap_or(if args.quick { 1 } else { 5 }).max(1);
    let spec = args.size.spec(if args.quick {
        Scale::Quick
    } else {
        Scale::Googleapis
    });
    let sources = if !args.corpora.is_empty() {
        args.corpora.clone()
    } else if args.quick {
        vec![Source::Generated]
    } else {
        vec![Source::Generated, Source::Pypi]
    };
    let tools = find_tools(&args)?;
    println!("# greeter-bench plugin\n");
    println!("- protoc: {}", tools.protoc.path.display());
    println!("- protoc-gen-greeter: {}", tools.greeter.display());
    match &tools.peers {
        Some((prost, tonic)) => {
            println!("- peers: {} and {}", prost.display(), tonic.display())
        }
        None => println!("- peers: not installed, left out (run bench/scripts/install-peers.sh)"),
    }
    match &args.greeter_opt {
        Some(options) => println!("- protoc-gen-greeter options: {options}"),
        None => println!("- protoc-gen-greeter options: the defaults"),
    }
    println!("- rounds: {rounds}, order rotated each round; figures are medians");

    let mut variants = vec![
        Variant::ProtocAlone,
        Variant::Greeter,
        Variant::GreeterAnswered,
    ];
    if tools.peers.is_some() {
        variants.push(Variant::ProstTonic);
    }
    if args.services_only {
        variants.push(Variant::GreeterServices);
        if tools.peers.is_some() {
            variants.push(Variant::TonicAlone);
        }
    }
    if !args.no_build_rs {
        variants.extend([Variant::BuildRsGreeter, Variant::BuildRsTonic]);
    }

    for source in &sources {
        let corpus = corpora::load(source, spec, &cache, &tools.protoc)?;
        println!("\n## Corpus {}\n", corpus.name);
        println!("{}", corpus.summary);
        println!(
            "\n{} files compiled; {} left out because protoc alone rejects them{}",
            corpus.files.len(),
            corpus.excluded.len(),
            excluded_note(&corpus.excluded)
        );
        let work = cache.join("work").join(slug(&corpus.name));
        let results = run_rounds(&corpus, &variants, rounds, &tools, &work)?;
        println!("\n{}", report::medians_table(&results));
        println!("{}", report::ratios_table(&results));
    }
    Ok(())
}

/// Runs every variant once per round, the starting variant rotating; a variant that fails is
/// reported and dropped from the later rounds.
fn run_rounds(
    corpus: &Corpus,
    variants: &[Variant],
    rounds: usize,
    tools: &Tools,
    work: &Path,
) -> io::Result<report::Results> {
    std::fs::create_dir_all(work)?;
    let files_list = work.join("files.txt");
    let paths: Vec<String> = corpus
        .paths()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    std::fs::write(&files_list, paths.join("\n") + "\n")?;

    let mut samples: Vec<(Variant, Vec<Sample>)> =
        variants.iter().map(|&v| (v, Vec::new())).collect();
    let mut failed = vec![false; variants.len()];
    if let Some(index) = variants.iter().position(|&v| v == Variant::GreeterAnswered) {
        eprintln!(
            "recording protoc-gen-greeter's answer on {} (untimed)",
            corpus.name
        );
        if let Err(error) = variants::record_answer(corpus, tools, work) {
            println!("\n**recording greeter's answer failed**, left out: {error}\n");
            failed[index] = true;
        }
    }
    for round in 0..rounds {
        for step in 0..variants.len() {
            let index = (round + step) % variants.len();
            if failed[index] {
                continue;
            }
            let variant = variants[index];
            eprintln!(
                "round {}/{rounds}: {} on {}",
                round + 1,
                variant.label(),
                corpus.name
            );
            match variants::run(variant, corpus, &files_list, tools, work) {
                Ok(sample) => samples[index].1.push(sample),
                Err(error) => {
                    println!("\n**{} failed**, left out: {error}\n", variant.label());
                    failed[index] = true;
                    samples[index].1.clear();
                }
            }
        }
    }
    Ok(report::Results { variants: samples })
}

fn find_tools(args: &Args) -> Result<Tools, Box<dyn std::error::Error>> {
    let protoc = Protoc::vendored()?;
    let exe_dir = std::env::current_exe()?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let greeter = args
        .plugin_path
        .clone()
        .unwrap_or_else(|| exe_dir.join("protoc-gen-greeter"));
    let version = Command::new(&greeter).arg("--version").output();
    if !version.is_ok_and(|out| out.status.success()) {
        return Err(format!(
            "no working protoc-gen-greeter at {}: build it beside greeter-bench with \
             `cargo build --release -p protoc-gen-greeter -p greeter-bench`, or pass --plugin-path",
            greeter.display()
        )
        .into());
    }
    let peers_dir = args
        .peers_dir
        .clone()
        .unwrap_or_else(|| bench_dir().join(".tools/bin"));
    let peer_paths = (
        peers_dir.join("protoc-gen-prost"),
        peers_dir.join("protoc-gen-tonic"),
    );
    let installed = |(prost, tonic): &(PathBuf, PathBuf)| prost.is_file() && tonic.is_file();
    if !installed(&peer_paths) && !args.quick && args.peers_dir.is_none() {
        let script = bench_dir().join("scripts/install-peers.sh");
        eprintln!("installing the peer plugins with {}", script.display());
        if !Command::new("bash").arg(&script).status()?.success() {
            return Err(format!("{} failed", script.display()).into());
        }
    }
    let peers = if installed(&peer_paths) {
        Some(peer_paths)
    } else if args.quick {
        None
    } else {
        return Err(format!(
            "protoc-gen-prost/protoc-gen-tonic missing in {}",
            peers_dir.display()
        )
        .into());
    };
    Ok(Tools {
        protoc,
        greeter,
        greeter_opt: args.greeter_opt.clone(),
        peers,
    })
}

fn excluded_note(excluded: &[String]) -> String {
    match excluded {
        [] => String::new(),
        [a, ..] if excluded.len() > 5 => format!(" (e.g. {a}; see logs/protoc-check.stderr)"),
        _ => format!(" ({})", excluded.join(", ")),
    }
}

fn slug(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}
