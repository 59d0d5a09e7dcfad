//! Generator options, parsed once from the plugin parameter (`--greeter_opt=k=v,k2=v2`) or set by
//! the build.rs builder, then passed down as one typed struct.

use crate::error::Error;

/// The default path of the runtime crate in generated code.
pub const DEFAULT_RUNTIME_CRATE: &str = "::greeter_runtime";

const KNOWN_OPTIONS: &str =
    "messages, server, client, default_stubs, include_file, extern_path, runtime_crate, rustfmt";

/// What to generate and how generated code refers to other crates.
#[derive(Debug, Clone)]
pub struct Options {
    /// Emit prost messages (`false` pairs the output with protoc-gen-prost).
    pub messages: bool,
    /// Emit service traits and servers.
    pub server: bool,
    /// Emit clients.
    pub client: bool,
    /// Give every service trait method a default body answering UNIMPLEMENTED.
    pub default_stubs: bool,
    /// Also write one file that nests every package file in its modules.
    pub include_file: Option<String>,
    /// Proto paths (`.google.protobuf`) taken from existing Rust paths instead of generated.
    pub extern_paths: Vec<(String, String)>,
    /// Path of the `greeter-runtime` crate in generated code, checked to be a Rust path. Kept as
    /// text because syn's types may not cross threads, and generation runs on several.
    pub runtime_crate: String,
    /// Pipe every file through `rustfmt` (`$RUSTFMT`, else on `PATH`) after prettyplease, so it is
    /// exactly what `cargo fmt` leaves. Off by default: at googleapis scale rustfmt takes longer
    /// than everything else together (see BENCHMARKS.md), and the peers' output is prettyplease's.
    pub rustfmt: bool,
    /// Attributes for generated types, by proto path (build.rs only: values may hold commas).
    pub type_attributes: Vec<(String, String)>,
    /// Attributes for generated fields, by proto path (build.rs only).
    pub field_attributes: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            messages: true,
            server: true,
            client: true,
            default_stubs: false,
            include_file: None,
            extern_paths: Vec::new(),
            runtime_crate: DEFAULT_RUNTIME_CRATE.to_owned(),
            rustfmt: false,
            type_attributes: Vec::new(),
            field_attributes: Vec::new(),
        }
    }
}

impl Options {
    /// Parses the plugin parameter: comma-separated `key=value` pairs; empty items are ignored.
    pub fn parse(parameter: &str) -> Result<Self, Error> {
        let mut options = Self::default();
        for item in parameter
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let (key, value) = item.split_once('=').unwrap_or((item, ""));
            options.set(key.trim(), value.trim())?;
        }
        Ok(options)
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), Error> {
        match key {
            "messages" => self.messages = parse_bool(key, value)?,
            "server" => self.server = parse_bool(key, value)?,
            "client" => self.client = parse_bool(key, value)?,
            "default_stubs" => self.default_stubs = parse_bool(key, value)?,
            "include_file" => self.include_file = Some(parse_file_name(key, value)?),
            "extern_path" => self.extern_paths.push(parse_extern_path(key, value)?),
            "runtime_crate" => self.runtime_crate = parse_rust_path(key, value)?,
            "rustfmt" => self.rustfmt = parse_bool(key, value)?,
            _ => {
                return Err(Error::UnknownOption {
                    key: key.to_owned(),
                    known: KNOWN_OPTIONS,
                });
            }
        }
        Ok(())
    }
}

fn parse_bool(key: &str, value: &str) -> Result<bool, Error> {
    match value {
        // A bare `server` reads as `server=true`, as in protoc-gen-prost.
        "true" | "" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::invalid_option(
            key,
            value,
            "expected `true` or `false`",
        )),
    }
}

fn parse_file_name(key: &str, value: &str) -> Result<String, Error> {
    let plain = !value.is_empty()
        && value.ends_with(".rs")
        && !value.contains(['/', '\\'])
        && !value.starts_with('.');
    if plain {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid_option(
            key,
            value,
            "expected a file name ending in `.rs`, such as `mod.rs`",
        ))
    }
}

/// `.my.pkg=::my_crate::pkg`: a fully qualified proto path, then a Rust path.
fn parse_extern_path(key: &str, value: &str) -> Result<(String, String), Error> {
    const EXPECTED: &str = "expected `.proto.path=::rust::path`";
    let (proto, rust) = value
        .split_once('=')
        .ok_or_else(|| Error::invalid_option(key, value, EXPECTED))?;
    let proto_ok = proto.starts_with('.')
        && proto[1..].split('.').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if !proto_ok || syn::parse_str::<syn::Path>(rust).is_err() {
        return Err(Error::invalid_option(key, value, EXPECTED));
    }
    Ok((proto.to_owned(), rust.to_owned()))
}

/// Whether `value` is a module path: generated modules `use` the runtime's, so its segments
/// carry no generic arguments.
pub(crate) fn is_module_path(value: &str) -> bool {
    syn::parse_str::<syn::Path>(value)
        .is_ok_and(|path| path.segments.iter().all(|s| s.arguments.is_none()))
}

fn parse_rust_path(key: &str, value: &str) -> Result<String, Error> {
    if is_module_path(value) {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid_option(
            key,
            value,
            "expected a Rust path such as `::greeter_runtime`",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_generate_everything() {
        let options = Options::parse("").unwrap();
        assert!(options.messages && options.server && options.client);
        assert!(!options.default_stubs && !options.rustfmt);
        assert_eq!(options.include_file, None);
    }

    #[test]
    fn parses_every_option() {
        let options = Options::parse(
            "messages=false, server=false,client=true,default_stubs,include_file=mod.rs,\
             extern_path=.google.protobuf=::pbjson_types,extern_path=.a.b=crate::ab,\
             runtime_crate=crate::rt,rustfmt",
        )
        .unwrap();
        assert!(!options.messages && !options.server && options.client && options.default_stubs);
        assert_eq!(options.include_file.as_deref(), Some("mod.rs"));
        assert_eq!(
            options.extern_paths,
            [
                (".google.protobuf".to_owned(), "::pbjson_types".to_owned()),
                (".a.b".to_owned(), "crate::ab".to_owned())
            ]
        );
        assert_eq!(options.runtime_crate, "crate::rt");
        assert!(options.rustfmt);
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        let cases = [
            (
                "colour=red",
                "unknown option `colour` (known options: messages, server, client, default_stubs, include_file, extern_path, runtime_crate, rustfmt)",
            ),
            (
                "server=yes",
                "invalid value `yes` for option `server`: expected `true` or `false`",
            ),
            (
                "include_file=../x.rs",
                "invalid value `../x.rs` for option `include_file`: expected a file name ending in `.rs`, such as `mod.rs`",
            ),
            (
                "extern_path=google.protobuf",
                "invalid value `google.protobuf` for option `extern_path`: expected `.proto.path=::rust::path`",
            ),
            (
                "extern_path=.a=not a path",
                "invalid value `.a=not a path` for option `extern_path`: expected `.proto.path=::rust::path`",
            ),
            (
                "runtime_crate=1abc",
                "invalid value `1abc` for option `runtime_crate`: expected a Rust path such as `::greeter_runtime`",
            ),
            (
                "runtime_crate=rt::Foo<u8>",
                "invalid value `rt::Foo<u8>` for option `runtime_crate`: expected a Rust path such as `::greeter_runtime`",
            ),
        ];
        for (parameter, message) in cases {
            assert_eq!(
                Options::parse(parameter).unwrap_err().to_string(),
                message,
                "{parameter}"
            );
        }
    }
}
