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
mod contract;
mod descriptors;
mod docs;
mod error;
mod format;
mod generate;
mod model;
mod names;
mod options;
mod protox_set;

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};

use prost::Message;
use prost::bytes::Bytes;
use prost::encoding::{message, string, uint64};
use prost_types::compiler::{CodeGeneratorResponse, code_generator_response};

use descriptors::Descriptors;

pub use builder::{Builder, configure};
pub use contract::{OPTIONS_PROTO, OPTIONS_PROTO_NAME};
pub use error::Error;
pub use generate::{GeneratedFile, THREADS_ENV};
pub use options::Options;

/// The plugin's version, as `--version` prints it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The features the plugin declares to protoc.
const SUPPORTED_FEATURES: u64 = code_generator_response::Feature::Proto3Optional as u64;

/// `CodeGeneratorResponse` field numbers, for writing a response file by file.
const RESPONSE_ERROR_FIELD: u32 = 1;
const RESPONSE_SUPPORTED_FEATURES_FIELD: u32 = 2;
const RESPONSE_FILE_FIELD: u32 = 15;

/// A `CodeGeneratorRequest` decoded with the proto files kept as raw bytes: decoding them into
/// `prost_types` would drop custom options, which the descriptor pool keeps.
#[derive(Clone, PartialEq, Message)]
struct CodeGeneratorRequest {
    #[prost(string, repeated, tag = "1")]
    file_to_generate: Vec<String>,
    #[prost(string, optional, tag = "2")]
    parameter: Option<String>,
    #[prost(bytes = "bytes", repeated, tag = "15")]
    proto_file: Vec<Bytes>,
}

/// Answers one `CodeGeneratorRequest` (its encoded bytes) as a protoc plugin does. Never panics:
/// every failure, including a bug in the generator, becomes the response's `error`.
pub fn execute(request: &[u8]) -> CodeGeneratorResponse {
    let mut response = CodeGeneratorResponse {
        supported_features: Some(SUPPORTED_FEATURES),
        ..Default::default()
    };
    let outcome = answer(Bytes::copy_from_slice(request), &mut |file| {
        response.file.push(code_generator_response::File {
            name: Some(file.name),
            content: Some(file.content),
            ..Default::default()
        });
        Ok(())
    });
    if let Err(error) = outcome {
        response.file.clear();
        response.error = Some(error.to_string());
    }
    response
}

/// Like [`execute`], but takes the request by value (its proto files are then slices of it, not
/// copies) and writes the encoded response to `out` file by file as each is generated, so the
/// whole response is never held in memory. A failure after some files were written appends the
/// `error` field, which makes protoc discard those files. Only writing to `out` can fail.
pub fn execute_to(request: Vec<u8>, out: &mut impl Write) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    uint64::encode(
        RESPONSE_SUPPORTED_FEATURES_FIELD,
        &SUPPORTED_FEATURES,
        &mut buffer,
    );
    out.write_all(&buffer)?;
    let mut write_error = None;
    let outcome = answer(Bytes::from(request), &mut |file| {
        buffer.clear();
        let file = code_generator_response::File {
            name: Some(file.name),
            content: Some(file.content),
            ..Default::default()
        };
        message::encode(RESPONSE_FILE_FIELD, &file, &mut buffer);
        out.write_all(&buffer).map_err(|error| {
            let message = error.to_string();
            write_error = Some(error);
            Error::Write {
                file: "<stdout>".to_owned(),
                message,
            }
        })
    });
    if let Some(error) = write_error {
        return Err(error);
    }
    if let Err(error) = outcome {
        buffer.clear();
        string::encode(RESPONSE_ERROR_FIELD, &error.to_string(), &mut buffer);
        out.write_all(&buffer)?;
    }
    out.flush()
}

/// Runs the generator over a request, catching any panic as an error.
fn answer(
    request: Bytes,
    emit: &mut dyn FnMut(GeneratedFile) -> Result<(), Error>,
) -> Result<(), Error> {
    catch_unwind(AssertUnwindSafe(|| {
        let request = CodeGeneratorRequest::decode(request)?;
        let options = Options::parse(request.parameter.as_deref().unwrap_or_default())?;
        let descriptors = Descriptors::load(request.proto_file)?;
        generate::generate(&descriptors, &request.file_to_generate, &options, emit)
    }))
    .unwrap_or_else(|panic| Err(Error::Panic(generate::panic_message(&panic))))
}

/// A `FileDescriptorSet` with its files kept as raw bytes, for the same reason.
#[derive(Clone, PartialEq, Message)]
struct FileDescriptorSet {
    #[prost(bytes = "bytes", repeated, tag = "1")]
    file: Vec<Bytes>,
}

/// Generates the files for `files_to_generate` from an encoded `FileDescriptorSet` that holds
/// them and everything they import, imports first (as protoc and protox write it).
pub fn generate_from_descriptor_set(
    descriptor_set: &[u8],
    files_to_generate: &[String],
    options: &Options,
) -> Result<Vec<GeneratedFile>, Error> {
    let set = FileDescriptorSet::decode(Bytes::copy_from_slice(descriptor_set))?;
    let descriptors = Descriptors::load(set.file)?;
    let mut files = Vec::new();
    generate::generate(&descriptors, files_to_generate, options, &mut |file| {
        files.push(file);
        Ok(())
    })?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request for the Greeter proto, as protoc would send it.
    fn greeter_request(parameter: &str) -> Vec<u8> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto");
        let mut compiler = protox::Compiler::new([&root]).unwrap();
        compiler.include_imports(true).include_source_info(true);
        compiler.open_files(["greeter/v1/greeter.proto"]).unwrap();
        let set =
            FileDescriptorSet::decode(compiler.encode_file_descriptor_set().as_slice()).unwrap();
        let mut request = Vec::new();
        string::encode(1, &"greeter/v1/greeter.proto".to_owned(), &mut request);
        string::encode(2, &parameter.to_owned(), &mut request);
        for file in &set.file {
            prost::encoding::bytes::encode(15, file, &mut request);
        }
        request
    }

    fn streamed(request: Vec<u8>) -> CodeGeneratorResponse {
        let mut out = Vec::new();
        execute_to(request, &mut out).unwrap();
        CodeGeneratorResponse::decode(out.as_slice()).unwrap()
    }

    #[test]
    fn the_streamed_response_is_the_collected_one() {
        let request = greeter_request("include_file=mod.rs");
        let collected = execute(&request);
        assert_eq!(collected.error, None);
        let names: Vec<&str> = collected.file.iter().map(|f| f.name()).collect();
        assert_eq!(names, ["greeter.v1.rs", "mod.rs"]);
        assert_eq!(streamed(request), collected);
    }

    #[test]
    fn errors_are_the_same_streamed_or_collected() {
        for request in [greeter_request("colour=red"), b"\xff\xff".to_vec()] {
            let collected = execute(&request);
            assert!(collected.error.is_some() && collected.file.is_empty());
            assert_eq!(streamed(request), collected);
        }
    }
}
