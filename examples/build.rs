//! Generates the Greeter service from `proto/greeter/v1/greeter.proto` with `protoc-gen-greeter`,
//! and writes its file descriptor set next to it for gRPC server reflection.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let proto_root = manifest_dir.join("..").join("proto");
    let greeter_proto = proto_root.join("greeter").join("v1").join("greeter.proto");

    protoc_gen_greeter::configure()
        .build_server(true)
        .build_client(true)
        .file_descriptor_set_path(out_dir.join("greeter_descriptor.bin"))
        .compile_protos(&[greeter_proto], &[proto_root])?;
    Ok(())
}
