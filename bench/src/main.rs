//! `greeter-bench`: what the generated code costs at run time against plain tonic and the raw
//! HTTP/2 floor, and what the plugin and build.rs cost against their peers. Every figure is a
//! ratio measured side by side in one run; see `BENCHMARKS.md` for the method and the goals.

mod compile;
mod plugin;
mod runtime;
mod stats;

use std::process::ExitCode;

use clap::Parser;

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
}

fn main() -> ExitCode {
    let outcome = match Command::parse() {
        Command::Runtime(args) => runtime::run(args),
        Command::Plugin(args) => plugin::run(args),
        Command::Compile(args) => compile::run(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("greeter-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
