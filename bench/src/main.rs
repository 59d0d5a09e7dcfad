//! `greeter-bench`: what the generated code costs at run time against plain tonic and the raw
//! HTTP/2 floor, and what the plugin and build.rs cost against their peers. Every figure is a
//! ratio measured side by side in one run; see `BENCHMARKS.md` for the method and the goals.

mod compile;
mod corpus;
mod measure;
mod plugin;
mod runtime;
mod stats;

use std::process::ExitCode;

use clap::Parser;

/// Counts the server thread's allocations in `greeter-bench runtime`; otherwise the system
/// allocator as it is.
#[global_allocator]
static ALLOCATOR: runtime::allocations::Counting = runtime::allocations::Counting;

#[derive(Parser)]
#[command(version, about)]
enum Command {
    /// Generated servers against plain tonic, tonic's InterceptedService and a raw h2 floor.
    Runtime(runtime::Args),
    /// protoc + protoc-gen-greeter against protoc + protoc-gen-prost + protoc-gen-tonic, protoc
    /// alone, and build.rs generation (protox) against tonic-prost-build.
    Plugin(plugin::Args),
    /// Compile time of the generated code against tonic-prost-build's for the same protos.
    Compile(compile::Args),
    /// Runs a program with our standard streams and records its wall time, CPU and peak RSS
    /// (what protoc starts, through a wrapper script, in place of a measured plugin).
    #[command(hide = true)]
    MeasureChild(measure::ChildArgs),
    /// Does what a build script of one generator does, in a process of its own to be measured.
    #[command(hide = true)]
    BuildRsChild(plugin::BuildRsArgs),
    /// A plugin for protoc that answers at once with a recorded answer, or records one.
    #[command(hide = true)]
    AnswerChild(plugin::AnswerArgs),
}

fn main() -> ExitCode {
    let outcome = match Command::parse() {
        Command::Runtime(args) => runtime::run(args),
        Command::Plugin(args) => plugin::run(args),
        Command::Compile(args) => compile::run(args),
        Command::MeasureChild(args) => return measure::child(args),
        Command::BuildRsChild(args) => plugin::build_rs_child(args),
        Command::AnswerChild(args) => plugin::answer_child(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("greeter-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
