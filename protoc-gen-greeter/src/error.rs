//! Every way generation can fail. Each message names the file, service, method or option at
//! fault, because protoc shows it to the user as is.

/// A generation failure, reported as `CodeGeneratorResponse.error` by the plugin and as an
/// `io::Error` by the build.rs builder.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The plugin's stdin was not a `CodeGeneratorRequest`.
    #[error("cannot decode the CodeGeneratorRequest: {0}")]
    DecodeRequest(#[from] prost::DecodeError),
    /// The descriptors in the request do not form a valid set.
    #[error("invalid descriptors: {0}")]
    Descriptors(String),
    /// A file to generate is not among the request's descriptors.
    #[error("file `{0}` is listed to generate but its descriptor is missing from the request")]
    MissingFile(String),
    /// An unknown `--greeter_opt` key.
    #[error("unknown option `{key}` (known options: {known})")]
    UnknownOption { key: String, known: &'static str },
    /// A known option with a value it does not accept.
    #[error("invalid value `{value}` for option `{key}`: {expected}")]
    InvalidOption {
        key: String,
        value: String,
        expected: &'static str,
    },
    /// Something about one proto file that cannot be generated.
    #[error("{file}: {message}")]
    Unsupported { file: String, message: String },
    /// prost-build rejected or failed on the input.
    #[error("generating messages failed: {0}")]
    Messages(String),
    /// A bug: the generator (or a crate it uses) panicked; the panic was caught.
    #[error("internal error: the generator panicked: {0}")]
    Panic(String),
    /// The `rustfmt` option is set and rustfmt could not format a file.
    #[error("option `rustfmt`: cannot format `{file}`: {message}")]
    Rustfmt { file: String, message: String },
    /// Writing a generated file (build.rs) or the response (plugin) failed.
    #[error("cannot write `{file}`: {message}")]
    Write { file: String, message: String },
    /// The generator produced Rust that does not parse: a bug in the generator, reported rather
    /// than written out.
    #[error("internal error: generated code for `{file}` does not parse: {message}")]
    Internal { file: String, message: String },
}

impl Error {
    pub(crate) fn invalid_option(key: &str, value: &str, expected: &'static str) -> Self {
        Self::InvalidOption {
            key: key.to_owned(),
            value: value.to_owned(),
            expected,
        }
    }
}
