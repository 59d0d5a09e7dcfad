//! Generates the Greeter twice for `greeter-bench runtime`, from one descriptor set compiled in
//! pure Rust (no protoc needed): with tonic-prost-build 0.14 (the plain tonic baseline, server and
//! client) into `$OUT_DIR/tonic`, and with our generator (server only, on the same message types)
//! into `$OUT_DIR/greeter`.

use std::io;
use std::path::PathBuf;

fn main() -> io::Result<()> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let include = manifest.join("../proto");
    let proto = include.join("greeter/v1/greeter.proto");
    println!("cargo:rerun-if-changed={}", proto.display());

    let descriptors = protox::compile([&proto], [&include]).map_err(io::Error::other)?;
    let tonic_dir = out.join("tonic");
    std::fs::create_dir_all(&tonic_dir)?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .out_dir(&tonic_dir)
        .compile_fds(descriptors)?;

    // Our server over tonic-prost-build's messages: both servers then decode into and encode
    // from the very same types, so what differs is the service code alone.
    let greeter_dir = out.join("greeter");
    std::fs::create_dir_all(&greeter_dir)?;
    protoc_gen_greeter::configure()
        .build_messages(false)
        .build_client(false)
        .extern_path(".greeter.v1", "crate::runtime::pb::tonic")
        .out_dir(&greeter_dir)
        .skip_rerun_if_changed()
        .compile_protos(&[&proto], &[&include])
}
