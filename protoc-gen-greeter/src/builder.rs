//! The build.rs entry point: compile protos (pure Rust by default, or with a named `protoc`),
//! then run the same generator as the plugin and write its files to `OUT_DIR`.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use prost::Message;

use crate::Options;
use crate::descriptors::Descriptors;

/// Starts a [`Builder`] with the plugin's defaults: messages, servers and clients.
pub fn configure() -> Builder {
    Builder::default()
}

/// Settings for generating code from `build.rs`, in the style of tonic-build's builder.
#[derive(Debug, Clone, Default)]
pub struct Builder {
    options: Options,
    out_dir: Option<PathBuf>,
    protoc: Option<PathBuf>,
    file_descriptor_set_path: Option<PathBuf>,
    skip_rerun_if_changed: bool,
}

impl Builder {
    /// Generate service traits and servers (default `true`).
    pub fn build_server(mut self, enable: bool) -> Self {
        self.options.server = enable;
        self
    }

    /// Generate clients (default `true`).
    pub fn build_client(mut self, enable: bool) -> Self {
        self.options.client = enable;
        self
    }

    /// Generate prost messages (default `true`); `false` when another crate provides them.
    pub fn build_messages(mut self, enable: bool) -> Self {
        self.options.messages = enable;
        self
    }

    /// Give every service trait method a default body answering UNIMPLEMENTED (default `false`).
    pub fn default_stubs(mut self, enable: bool) -> Self {
        self.options.default_stubs = enable;
        self
    }

    /// Where to write the files (default: `$OUT_DIR`).
    pub fn out_dir(mut self, out_dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(out_dir.into());
        self
    }

    /// Also write one file that nests every package file in its modules.
    pub fn include_file(mut self, file_name: impl Into<String>) -> Self {
        self.options.include_file = Some(file_name.into());
        self
    }

    /// Use existing Rust types for a proto path instead of generating them, e.g.
    /// `extern_path(".google.protobuf", "::pbjson_types")`.
    pub fn extern_path(
        mut self,
        proto_path: impl Into<String>,
        rust_path: impl Into<String>,
    ) -> Self {
        self.options
            .extern_paths
            .push((proto_path.into(), rust_path.into()));
        self
    }

    /// Add an attribute to the generated types matching a proto path, e.g.
    /// `type_attribute(".", "#[derive(serde::Serialize)]")`.
    pub fn type_attribute(mut self, path: impl Into<String>, attribute: impl Into<String>) -> Self {
        self.options
            .type_attributes
            .push((path.into(), attribute.into()));
        self
    }

    /// Add an attribute to the generated fields matching a proto path.
    pub fn field_attribute(
        mut self,
        path: impl Into<String>,
        attribute: impl Into<String>,
    ) -> Self {
        self.options
            .field_attributes
            .push((path.into(), attribute.into()));
        self
    }

    /// Path of the `greeter-runtime` crate in generated code (default `::greeter_runtime`).
    pub fn runtime_crate(mut self, path: &str) -> io::Result<Self> {
        if !crate::options::is_module_path(path) {
            return Err(invalid_input(format!(
                "runtime_crate: `{path}` is not a Rust module path"
            )));
        }
        self.options.runtime_crate = path.to_owned();
        Ok(self)
    }

    /// Pipe every generated file through `rustfmt` (`$RUSTFMT`, else the one on `PATH`) so it is
    /// exactly what `cargo fmt` leaves (default `false`: prettyplease's formatting, as
    /// tonic-prost-build's). Generation fails if rustfmt cannot be run.
    pub fn rustfmt(mut self, enable: bool) -> Self {
        self.options.rustfmt = enable;
        self
    }

    /// Compile the protos with this `protoc` instead of the built-in pure-Rust compiler. Without
    /// it, the `PROTOC` environment variable, when set, names the `protoc` to use.
    pub fn protoc_executable(mut self, protoc: impl Into<PathBuf>) -> Self {
        self.protoc = Some(protoc.into());
        self
    }

    /// Also write the encoded `FileDescriptorSet` here, e.g. for gRPC server reflection.
    pub fn file_descriptor_set_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.file_descriptor_set_path = Some(path.into());
        self
    }

    /// Do not print `cargo:rerun-if-changed` lines (default: print them).
    pub fn skip_rerun_if_changed(mut self) -> Self {
        self.skip_rerun_if_changed = true;
        self
    }

    /// Compiles `protos`, found under `includes`, and writes one file per package.
    pub fn compile_protos(
        self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> io::Result<()> {
        let protos: Vec<&Path> = protos.iter().map(AsRef::as_ref).collect();
        let includes: Vec<&Path> = includes.iter().map(AsRef::as_ref).collect();
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| {
                    invalid_input(
                        "OUT_DIR is not set: call from build.rs or set out_dir".to_owned(),
                    )
                })?,
        };
        let names = protos
            .iter()
            .map(|proto| descriptor_name(proto, &includes))
            .collect::<io::Result<Vec<_>>>()?;
        // `import "greeter/options.proto"` works with no include path of the user's: the file
        // is written under cargo's OUT_DIR (not among the generated files) and searched last,
        // so a copy of the user's own comes first.
        let options_dir = std::env::var_os("OUT_DIR")
            .map_or_else(std::env::temp_dir, PathBuf::from)
            .join(format!("protoc-gen-greeter-{}-include", crate::VERSION));
        write_if_changed(
            &options_dir.join(crate::OPTIONS_PROTO_NAME),
            crate::OPTIONS_PROTO.as_bytes(),
        )?;
        let mut includes = includes;
        includes.push(&options_dir);
        let protoc = self
            .protoc
            .clone()
            .or_else(|| std::env::var_os("PROTOC").map(PathBuf::from));
        let descriptor_set = match &protoc {
            Some(protoc) => compile_with_protoc(protoc, &protos, &includes)?,
            None => crate::protox_set::compile(&protos, &includes)
                .map_err(|e| invalid_input(format!("{e:?}")))?,
        };
        if let Some(path) = &self.file_descriptor_set_path {
            std::fs::write(path, &descriptor_set)?;
        }
        // The files become slices of the set, not copies: at googleapis scale the set is 150 MB.
        let descriptors =
            crate::FileDescriptorSet::decode(prost::bytes::Bytes::from(descriptor_set))
                .map_err(crate::Error::from)
                .and_then(|set| Descriptors::load(set.file))
                .map_err(|e| io::Error::other(e.to_string()))?;
        if !self.skip_rerun_if_changed {
            println!("cargo:rerun-if-env-changed=PROTOC");
            print_rerun_if_changed(&descriptors, &includes);
        }
        std::fs::create_dir_all(&out_dir)?;
        // Each file is written as soon as it is generated.
        crate::generate::generate(&descriptors, &names, &self.options, &mut |file| {
            write_if_changed(&out_dir.join(&file.name), file.content.as_bytes()).map_err(|e| {
                crate::Error::Write {
                    file: out_dir.join(&file.name).display().to_string(),
                    message: e.to_string(),
                }
            })
        })
        .map_err(|e| io::Error::other(e.to_string()))
    }
}

fn invalid_input(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// The name protoc gives a proto file: its path relative to the include directory holding it.
fn descriptor_name(proto: &Path, includes: &[&Path]) -> io::Result<String> {
    for include in includes {
        if let Ok(relative) = proto.strip_prefix(include) {
            let parts: Vec<_> = relative.iter().map(|part| part.to_string_lossy()).collect();
            return Ok(parts.join("/"));
        }
    }
    if proto.is_relative() && includes.iter().any(|include| include.join(proto).is_file()) {
        return Ok(proto
            .iter()
            .map(|part| part.to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"));
    }
    Err(invalid_input(format!(
        "{} is not under any include directory ({})",
        proto.display(),
        includes
            .iter()
            .map(|i| i.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

fn compile_with_protoc(protoc: &Path, protos: &[&Path], includes: &[&Path]) -> io::Result<Vec<u8>> {
    let out = tempfile_path();
    let mut command = Command::new(protoc);
    command
        .arg("--include_imports")
        .arg("--include_source_info")
        .arg(format!("--descriptor_set_out={}", out.display()));
    for include in includes {
        command.arg("-I").arg(include);
    }
    command.args(protos);
    let output = command.output().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot run protoc at {}: {e}", protoc.display()),
        )
    })?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "protoc failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let bytes = std::fs::read(&out)?;
    let _ = std::fs::remove_file(&out);
    Ok(bytes)
}

/// A fresh path for protoc's descriptor output, in `OUT_DIR` when there is one.
fn tempfile_path() -> PathBuf {
    let dir = std::env::var_os("OUT_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let unique = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    dir.join(format!(
        "protoc-gen-greeter-{}-{unique}.pb",
        std::process::id()
    ))
}

/// Every proto file of the set that lives under an include directory (so not the well-known
/// types bundled with the compiler) makes cargo rerun the build script when it changes.
fn print_rerun_if_changed(descriptors: &Descriptors, includes: &[&Path]) {
    for file in &descriptors.files {
        if let Some(path) = includes
            .iter()
            .map(|i| i.join(&file.name))
            .find(|p| p.is_file())
        {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

fn write_if_changed(path: &Path, content: &[u8]) -> io::Result<()> {
    if std::fs::read(path).is_ok_and(|existing| existing == content) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, content)
}
