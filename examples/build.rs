//! Generates, with `protoc-gen-greeter`, the Greeter service from
//! `proto/greeter/v1/greeter.proto` and gRPC's interop test service from `proto/grpc/testing/`,
//! and writes the file descriptor set of each next to it for gRPC server reflection.

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
        .compile_protos(&[greeter_proto], &[&proto_root])?;

    // The interop server leaves `UnimplementedCall` unimplemented, as gRPC's interop spec
    // wants: the UNIMPLEMENTED default stub answers it.
    let testing = proto_root.join("grpc").join("testing");
    let interop_protos = ["empty.proto", "messages.proto", "test.proto"].map(|f| testing.join(f));
    protoc_gen_greeter::configure()
        .default_stubs(true)
        .file_descriptor_set_path(out_dir.join("grpc_testing_descriptor.bin"))
        .compile_protos(&interop_protos, &[&proto_root])?;
    Ok(())
}
