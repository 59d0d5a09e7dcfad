//! Generates the Greeter and stress protos through the build.rs builder, twice: with the built-in
//! pure-Rust compiler and with a real (vendored) protoc. `tests/build_rs.rs` checks that both
//! equal the plugin's golden output byte for byte.

use std::path::{Path, PathBuf};

const STRESS_FILES: &[&str] = &[
    "stress/common/v1/common.proto",
    "stress/api/v1/api.proto",
    "stress/type/type.proto",
    "stress/api/api.proto",
];

fn main() -> std::io::Result<()> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let greeter_include = manifest.join("../proto");
    let stress_include = manifest.join("proto");
    let greeter = [greeter_include.join("greeter/v1/greeter.proto")];
    let stress: Vec<PathBuf> = STRESS_FILES
        .iter()
        .map(|f| stress_include.join(f))
        .collect();
    let protoc = protoc_bin_vendored::protoc_bin_path().map_err(std::io::Error::other)?;
    let wkt_include = protoc_bin_vendored::include_path().map_err(std::io::Error::other)?;

    for (compiler, protoc) in [("protox", None), ("protoc", Some(&protoc))] {
        let dir = |name: &str| out.join(compiler).join(name);
        builder(protoc, &dir("greeter")).compile_protos(&greeter, &[&greeter_include])?;
        let includes: Vec<&Path> = match protoc {
            // protox bundles the well-known types; protoc needs their directory.
            None => vec![&stress_include],
            Some(_) => vec![&stress_include, &wkt_include],
        };
        builder(protoc, &dir("stress"))
            .include_file("mod.rs")
            .compile_protos(&stress, &includes)?;
    }
    // UNIMPLEMENTED defaults, compiled and called by `tests/stubs.rs`.
    protoc_gen_greeter::configure()
        .out_dir(out.join("stubs"))
        .default_stubs(true)
        .build_messages(true)
        .compile_protos(&greeter, &[&greeter_include])?;
    Ok(())
}

fn builder(protoc: Option<&PathBuf>, out_dir: &Path) -> protoc_gen_greeter::Builder {
    let builder = protoc_gen_greeter::configure().out_dir(out_dir);
    match protoc {
        Some(protoc) => builder.protoc_executable(protoc),
        None => builder,
    }
}
