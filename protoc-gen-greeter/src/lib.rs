//! `protoc-gen-greeter`: generates tonic gRPC services in which every method has interceptor
//! hooks, from `protoc` (this crate's binary) or from `build.rs` (this library).
//!
//! Both paths run the same generator over the same descriptors, so one input gives one output
//! whichever path produced it:
//!
//! - the plugin reads a `CodeGeneratorRequest` and answers with [`execute`];
//! - `build.rs` calls [`configure`]`().compile_protos(…)`, which compiles the protos in pure Rust
//!   (no `protoc` needed) or with a `protoc` the user names.
//!
//! ```no_run
//! // build.rs
//! fn main() -> std::io::Result<()> {
//!     protoc_gen_greeter::configure()
//!         .build_client(true)
//!         .compile_protos(&["proto/greeter/v1/greeter.proto"], &["proto"])
//! }
//! ```

mod builder;
mod docs;
mod error;
mod format;
mod generate;
mod model;
mod names;
mod options;

use prost::Message;
use prost_reflect::DescriptorPool;
use prost_types::compiler::{CodeGeneratorResponse, code_generator_response};

pub use builder::{Builder, configure};
pub use error::Error;
pub use generate::GeneratedFile;
pub use options::Options;

/// The plugin's version, as `--version` prints it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A `CodeGeneratorRequest` decoded with the proto files kept as raw bytes: decoding them into
/// `prost_types` would drop custom options, which the descriptor pool keeps.
#[derive(Clone, PartialEq, Message)]
struct CodeGeneratorRequest {
    #[prost(string, repeated, tag = "1")]
    file_to_generate: Vec<String>,
    #[prost(string, optional, tag = "2")]
    parameter: Option<String>,
    #[prost(bytes = "vec", repeated, tag = "15")]
    proto_file: Vec<Vec<u8>>,
}

/// Answers one `CodeGeneratorRequest` (its encoded bytes) as a protoc plugin does. Never panics:
/// every failure, including a bug in the generator, becomes the response's `error`.
pub fn execute(request: &[u8]) -> CodeGeneratorResponse {
    let outcome =
        std::panic::catch_unwind(|| generate_from_request(request)).unwrap_or_else(|panic| {
            Err(Error::Internal {
                file: "<request>".to_owned(),
                message: format!(
                    "the generator panicked: {}",
                    generate::panic_message(&panic)
                ),
            })
        });
    let mut response = CodeGeneratorResponse {
        supported_features: Some(code_generator_response::Feature::Proto3Optional as u64),
        ..Default::default()
    };
    match outcome {
        Ok(files) => {
            response.file = files
                .into_iter()
                .map(|file| code_generator_response::File {
                    name: Some(file.name),
                    content: Some(file.content),
                    ..Default::default()
                })
                .collect();
        }
        Err(error) => response.error = Some(error.to_string()),
    }
    response
}

fn generate_from_request(request: &[u8]) -> Result<Vec<GeneratedFile>, Error> {
    let request = CodeGeneratorRequest::decode(request)?;
    let options = Options::parse(request.parameter.as_deref().unwrap_or_default())?;
    let pool = load_pool(&request.proto_file)?;
    generate::generate(&pool, &request.file_to_generate, &options)
}

/// A `FileDescriptorSet` with its files kept as raw bytes, for the same reason.
#[derive(Clone, PartialEq, Message)]
struct FileDescriptorSet {
    #[prost(bytes = "vec", repeated, tag = "1")]
    file: Vec<Vec<u8>>,
}

/// Generates the files for `files_to_generate` from an encoded `FileDescriptorSet` that holds
/// them and everything they import, imports first (as protoc and protox write it).
pub fn generate_from_descriptor_set(
    descriptor_set: &[u8],
    files_to_generate: &[String],
    options: &Options,
) -> Result<Vec<GeneratedFile>, Error> {
    let set = FileDescriptorSet::decode(descriptor_set)?;
    let pool = load_pool(&set.file)?;
    generate::generate(&pool, files_to_generate, options)
}

/// Builds the descriptor pool from encoded files, checking first what the pool would otherwise
/// assume (imports come first, syntax is one the generator supports).
fn load_pool(files: &[Vec<u8>]) -> Result<DescriptorPool, Error> {
    let mut pool = DescriptorPool::new();
    for bytes in files {
        let file = prost_types::FileDescriptorProto::decode(bytes.as_slice())?;
        let syntax = file.syntax();
        if !matches!(syntax, "" | "proto2" | "proto3") {
            return Err(Error::Unsupported {
                file: file.name().to_owned(),
                message: format!("syntax `{syntax}` is not supported; use proto2 or proto3"),
            });
        }
        if let Some(missing) = file
            .dependency
            .iter()
            .find(|d| pool.get_file_by_name(d).is_none())
        {
            return Err(Error::Descriptors(format!(
                "`{}` imports `{missing}`, which is not before it in the request",
                file.name()
            )));
        }
        pool.decode_file_descriptor_proto(bytes.as_slice())
            .map_err(|e| Error::Descriptors(e.to_string()))?;
    }
    Ok(pool)
}
