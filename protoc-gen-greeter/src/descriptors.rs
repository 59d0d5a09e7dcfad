//! The input: encoded `FileDescriptorProto`s (from a `CodeGeneratorRequest` or a
//! `FileDescriptorSet`), checked and indexed once.
//!
//! The files stay encoded. Decoding them into `prost_types` would drop custom options, and at
//! googleapis scale (7,000 files, 150 MB of mostly comments) every decoded copy costs hundreds of
//! megabytes. So each consumer decodes only what it needs: the checks read a four-field header,
//! the descriptor pool gets the names, options and services of the files (no comments, and
//! messages without their fields), and prost-build decodes, chunk by chunk, only the files a
//! chunk needs.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use prost::Message;
use prost::bytes::Bytes;
use prost::encoding::{DecodeContext, WireType, decode_key, encode_key, encode_varint, skip_field};
use prost_reflect::DescriptorPool;

use crate::error::Error;

/// `FileDescriptorProto.source_code_info`: comments and spans, which only prost-build reads.
const SOURCE_CODE_INFO_FIELD: u32 = 9;
/// `FileDescriptorSet.file`.
const FILE_DESCRIPTOR_SET_FILE_FIELD: u32 = 1;
/// `FileDescriptorProto.message_type`.
const FILE_MESSAGE_TYPE_FIELD: u32 = 4;
/// `FileDescriptorProto.extension`.
const FILE_EXTENSION_FIELD: u32 = 7;
/// `DescriptorProto.field`.
const MESSAGE_FIELD_FIELD: u32 = 2;
/// `DescriptorProto.nested_type`.
const MESSAGE_NESTED_TYPE_FIELD: u32 = 3;
/// `DescriptorProto.extension`.
const MESSAGE_EXTENSION_FIELD: u32 = 6;
/// `DescriptorProto.oneof_decl`.
const MESSAGE_ONEOF_DECL_FIELD: u32 = 8;
/// `DescriptorProto.reserved_range`.
const MESSAGE_RESERVED_RANGE_FIELD: u32 = 9;
/// `DescriptorProto.reserved_name`.
const MESSAGE_RESERVED_NAME_FIELD: u32 = 10;

/// What the generator reads of a file before anything else: enough to check the input and plan
/// the work, decoded without allocating for anything else in the file.
#[derive(Clone, PartialEq, Message)]
struct FileHeader {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(string, optional, tag = "2")]
    package: Option<String>,
    #[prost(string, repeated, tag = "3")]
    dependency: Vec<String>,
    #[prost(string, optional, tag = "12")]
    syntax: Option<String>,
}

/// One input file.
pub struct InputFile {
    pub name: String,
    pub package: String,
    /// Indexes (into [`Descriptors::files`]) of the files it imports; always smaller than its own.
    pub imports: Vec<usize>,
    /// The encoded `FileDescriptorProto`, comments included: a slice of the request (or
    /// descriptor set) it came in, not a copy.
    pub bytes: Bytes,
    /// How many of those bytes are not `source_code_info`: what decoding it for a chunk that only
    /// imports it reads.
    pub declared_len: usize,
}

/// Every input file, in input order (imports before importers), and the descriptor pool.
///
/// The pool is built on first use ([`Descriptors::pool`]): generation starts prost-build on the
/// first chunks while another thread builds it, since only rendering needs it.
pub struct Descriptors {
    pub files: Vec<InputFile>,
    by_name: HashMap<String, usize>,
    /// Every file's names, options and services; or why the files do not make one.
    pool: OnceLock<Result<DescriptorPool, String>>,
}

impl Descriptors {
    /// Checks and indexes `files`, which must list every import before its importer (as protoc and
    /// protox write them).
    pub fn load(files: Vec<Bytes>) -> Result<Self, Error> {
        let (files, by_name) = index_files(files)?;
        Ok(Self {
            files,
            by_name,
            pool: OnceLock::new(),
        })
    }

    /// Every file's names, options (custom ones included) and services, which is all rendering
    /// reads: no comments (prost-build hands those over), and messages without their fields,
    /// except in the files that declare extensions and the files those import, which custom
    /// options are read through. On googleapis that is a third less memory at the plugin's peak
    /// than the whole files (BENCHMARKS.md). Elsewhere a message's `fields()` are empty, map
    /// entries included (`is_map_entry()` holds, but `map_entry_key_field()` would panic): read
    /// fields from the files, not from here. Since the pool checks no fields, duplicate JSON names
    /// and the like in proto2 files are left to protoc, which accepts them with a warning. Built
    /// on the first call; a call while another thread builds it waits for that one.
    pub fn pool(&self) -> Result<&DescriptorPool, Error> {
        self.pool
            .get_or_init(|| pool_of_names(&self.files))
            .as_ref()
            .map_err(|message| Error::Descriptors(message.clone()))
    }

    /// The index of the file named `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// `roots` and everything they import, directly or not, in input order.
    pub fn with_imports(&self, roots: impl IntoIterator<Item = usize>) -> Vec<usize> {
        let mut seen = HashSet::new();
        let mut stack: Vec<usize> = roots.into_iter().collect();
        while let Some(index) = stack.pop() {
            if seen.insert(index) {
                stack.extend(&self.files[index].imports);
            }
        }
        let mut closure: Vec<usize> = seen.into_iter().collect();
        closure.sort_unstable();
        closure
    }

    /// The file at `index`, decoded with its comments, for prost-build. Of its source info only
    /// what prost-build reads is kept: the locations whose path names an element (even length:
    /// messages, fields, enums, values, oneofs, services, methods), without their spans. The
    /// locations of names, types and numbers (odd paths, most of them) are dropped as each file is
    /// decoded, rather than held until prost-build drops them: on the generated corpus the
    /// decoded files took 900 MB before (BENCHMARKS.md).
    pub fn decode(&self, index: usize) -> Result<prost_types::FileDescriptorProto, Error> {
        let mut file = prost_types::FileDescriptorProto::decode(self.files[index].bytes.as_ref())?;
        if let Some(info) = &mut file.source_code_info {
            info.location
                .retain(|location| !location.path.is_empty() && location.path.len() % 2 == 0);
            for location in &mut info.location {
                location.span = Vec::new();
            }
            info.location.shrink_to_fit();
        }
        Ok(file)
    }

    /// The file at `index`, decoded without its comments: for files prost-build must see but
    /// whose code is not written, which would otherwise have their comments sanitised for nothing.
    pub fn decode_without_comments(
        &self,
        index: usize,
    ) -> Result<prost_types::FileDescriptorProto, Error> {
        let mut stripped = Vec::with_capacity(self.files[index].bytes.len());
        strip_field(
            &self.files[index].bytes,
            SOURCE_CODE_INFO_FIELD,
            &mut stripped,
        )?;
        Ok(prost_types::FileDescriptorProto::decode(
            stripped.as_slice(),
        )?)
    }
}

/// Checks each file's header and indexes the files by name.
fn index_files(files: Vec<Bytes>) -> Result<(Vec<InputFile>, HashMap<String, usize>), Error> {
    let mut indexed = Vec::with_capacity(files.len());
    let mut by_name = HashMap::with_capacity(files.len());
    for bytes in files {
        let header = FileHeader::decode(bytes.as_ref())?;
        let name = header.name.unwrap_or_default();
        let syntax = header.syntax.as_deref().unwrap_or_default();
        if !matches!(syntax, "" | "proto2" | "proto3") {
            return Err(Error::Unsupported {
                file: name,
                message: format!("syntax `{syntax}` is not supported; use proto2 or proto3"),
            });
        }
        let imports = header
            .dependency
            .iter()
            .map(|import| {
                by_name.get(import).copied().ok_or_else(|| {
                    Error::Descriptors(format!(
                        "`{name}` imports `{import}`, which is not before it in the request"
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        if by_name.insert(name.clone(), indexed.len()).is_some() {
            return Err(Error::Descriptors(format!(
                "`{name}` appears twice in the request"
            )));
        }
        let mut comments_len = 0;
        each_field(&bytes, |tag, encoded| {
            if tag == SOURCE_CODE_INFO_FIELD {
                comments_len += encoded.len();
            }
        })?;
        indexed.push(InputFile {
            name,
            package: header.package.unwrap_or_default(),
            imports,
            declared_len: bytes.len() - comments_len,
            bytes,
        });
    }
    Ok((indexed, by_name))
}

/// Builds the pool in one pass from the files as the generator reads them (see
/// [`Descriptors::pool`]): without `source_code_info` (the pool keeps two copies of each file, and
/// comments are most of a file's size), and, outside the files that declare extensions and what
/// those import, messages without their fields.
fn pool_of_names(files: &[InputFile]) -> Result<DescriptorPool, String> {
    // A custom option is read through its extension, and the extension's own types (and an
    // extended message's ranges) are checked by the pool: those files stay whole.
    let mut whole = files
        .iter()
        .map(|file| declares_extensions(&file.bytes))
        .collect::<Result<Vec<bool>, _>>()
        .map_err(|e| e.to_string())?;
    // Imports come before their importers.
    for index in (0..files.len()).rev() {
        if whole[index] {
            for &import in &files[index].imports {
                whole[import] = true;
            }
        }
    }
    let mut set = Vec::with_capacity(files.iter().map(|f| f.bytes.len() / 8).sum());
    let mut lean = Vec::new();
    for (file, whole) in files.iter().zip(whole) {
        lean.clear();
        let stripped = if whole {
            strip_field(&file.bytes, SOURCE_CODE_INFO_FIELD, &mut lean)
        } else {
            file_of_names(&file.bytes, &mut lean)
        };
        stripped.map_err(|e| format!("`{}`: {e}", file.name))?;
        encode_key(
            FILE_DESCRIPTOR_SET_FILE_FIELD,
            WireType::LengthDelimited,
            &mut set,
        );
        encode_varint(lean.len() as u64, &mut set);
        set.extend_from_slice(&lean);
    }
    DescriptorPool::decode(set.as_slice()).map_err(|e| e.to_string())
}

/// Whether the encoded file declares an extension, at its top level or in a message.
fn declares_extensions(file: &[u8]) -> Result<bool, prost::DecodeError> {
    /// Whether `encoded` (a file or a message: its extension and message fields given) or one of
    /// its messages, however deep, declares an extension.
    fn declares(
        encoded: &[u8],
        extension_field: u32,
        message_field: u32,
    ) -> Result<bool, prost::DecodeError> {
        let mut found = false;
        let mut messages = Vec::new();
        each_field(encoded, |tag, field| {
            if tag == extension_field {
                found = true;
            } else if tag == message_field {
                messages.push(field_value(field));
            }
        })?;
        for message in messages {
            found = found || declares(message, MESSAGE_EXTENSION_FIELD, MESSAGE_NESTED_TYPE_FIELD)?;
        }
        Ok(found)
    }
    declares(file, FILE_EXTENSION_FIELD, FILE_MESSAGE_TYPE_FIELD)
}

/// Copies the encoded file into `out` without its source info and with each message (nested ones
/// too) reduced to its name, nested messages and enums and options.
fn file_of_names(file: &[u8], out: &mut Vec<u8>) -> Result<(), prost::DecodeError> {
    /// Copies `encoded` (a file or a message) into `out` without the fields `dropped`, each of
    /// its messages (field `message_field`) reduced in turn.
    fn reduced(
        encoded: &[u8],
        dropped: &[u32],
        message_field: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), prost::DecodeError> {
        let mut result = Ok(());
        each_field(encoded, |tag, field| {
            if tag == message_field {
                if result.is_ok() {
                    result = length_delimited(message_field, out, |out| {
                        reduced(
                            field_value(field),
                            MESSAGE_DROPPED,
                            MESSAGE_NESTED_TYPE_FIELD,
                            out,
                        )
                    });
                }
            } else if !dropped.contains(&tag) {
                out.extend_from_slice(field);
            }
        })?;
        result
    }
    /// What a message loses.
    const MESSAGE_DROPPED: &[u32] = &[
        MESSAGE_FIELD_FIELD,
        MESSAGE_ONEOF_DECL_FIELD,
        MESSAGE_RESERVED_RANGE_FIELD,
        MESSAGE_RESERVED_NAME_FIELD,
    ];
    reduced(
        file,
        &[SOURCE_CODE_INFO_FIELD],
        FILE_MESSAGE_TYPE_FIELD,
        out,
    )
}

/// Appends field `tag` to `out` with the value `write` appends: written in place, then moved up
/// behind its key and length.
fn length_delimited(
    tag: u32,
    out: &mut Vec<u8>,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), prost::DecodeError>,
) -> Result<(), prost::DecodeError> {
    let start = out.len();
    write(out)?;
    let value = out.split_off(start);
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(value.len() as u64, out);
    out.extend_from_slice(&value);
    Ok(())
}

/// The value of an encoded length-delimited field (its key and length skipped).
pub(crate) fn field_value(mut encoded: &[u8]) -> &[u8] {
    let _ = decode_key(&mut encoded);
    let _ = prost::encoding::decode_varint(&mut encoded);
    encoded
}

/// Copies the encoded message `bytes` into `out` without its occurrences of field `field`.
fn strip_field(bytes: &[u8], field: u32, out: &mut Vec<u8>) -> Result<(), prost::DecodeError> {
    each_field(bytes, |tag, encoded| {
        if tag != field {
            out.extend_from_slice(encoded);
        }
    })
}

/// Calls `visit` with each field of the encoded message `bytes`, in order: its number and its
/// whole encoding (key included).
pub(crate) fn each_field<'a>(
    bytes: &'a [u8],
    mut visit: impl FnMut(u32, &'a [u8]),
) -> Result<(), prost::DecodeError> {
    let mut rest = bytes;
    while !rest.is_empty() {
        let start = rest;
        let (tag, wire_type) = decode_key(&mut rest)?;
        skip_field(wire_type, tag, &mut rest, DecodeContext::default())?;
        visit(tag, &start[..start.len() - rest.len()]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::source_code_info::Location;
    use prost_types::{FileDescriptorProto, SourceCodeInfo};

    fn file(name: &str, imports: &[&str], comment: &str) -> Bytes {
        FileDescriptorProto {
            name: Some(name.to_owned()),
            package: Some("pkg".to_owned()),
            dependency: imports.iter().map(|s| (*s).to_owned()).collect(),
            syntax: Some("proto3".to_owned()),
            source_code_info: Some(SourceCodeInfo {
                location: vec![
                    Location {
                        path: vec![4, 0],
                        span: vec![1, 0, 10],
                        leading_comments: Some(comment.to_owned()),
                        ..Default::default()
                    },
                    // The name of message 0, and the file: prost-build reads neither.
                    Location {
                        path: vec![4, 0, 1],
                        span: vec![1, 8, 9],
                        ..Default::default()
                    },
                    Location::default(),
                ],
            }),
            ..Default::default()
        }
        .encode_to_vec()
        .into()
    }

    #[test]
    fn stripping_removes_only_the_comments() {
        let bytes = file("a.proto", &["b.proto"], "a comment");
        let mut out = Vec::new();
        strip_field(&bytes, SOURCE_CODE_INFO_FIELD, &mut out).unwrap();
        let stripped = FileDescriptorProto::decode(out.as_slice()).unwrap();
        let mut expected = FileDescriptorProto::decode(bytes.as_ref()).unwrap();
        assert!(expected.source_code_info.take().is_some());
        assert_eq!(stripped, expected);
    }

    #[test]
    fn imports_are_indexed_and_closed_over() {
        let descriptors = Descriptors::load(vec![
            file("c.proto", &[], "c"),
            file("b.proto", &["c.proto"], "b"),
            file("a.proto", &["b.proto"], "a"),
            file("d.proto", &[], "d"),
        ])
        .unwrap();
        assert_eq!(descriptors.index("a.proto"), Some(2));
        assert_eq!(descriptors.with_imports([2]), [0, 1, 2]);
        assert_eq!(descriptors.with_imports([3, 1]), [0, 1, 3]);
        let decoded = descriptors.decode(2).unwrap();
        let locations = decoded.source_code_info.unwrap().location;
        assert_eq!(locations.len(), 1, "{locations:?}");
        assert_eq!(locations[0].path, [4, 0]);
        assert_eq!(locations[0].leading_comments(), "a");
        assert!(locations[0].span.is_empty());
        let stripped = descriptors.decode_without_comments(2).unwrap();
        assert_eq!(stripped.name(), "a.proto");
        assert!(stripped.source_code_info.is_none());
        assert!(
            descriptors
                .pool()
                .unwrap()
                .get_file_by_name("a.proto")
                .unwrap()
                .file_descriptor_proto()
                .source_code_info
                .is_none()
        );
    }

    #[test]
    fn the_pool_keeps_fields_only_where_options_are_read_through_them() {
        use prost_types::field_descriptor_proto::{Label, Type};
        use prost_types::{DescriptorProto, FieldDescriptorProto, descriptor_proto};
        let field = |name: &str, number: i32, type_name: Option<&str>, extendee: Option<&str>| {
            FieldDescriptorProto {
                name: Some(name.to_owned()),
                number: Some(number),
                label: Some(Label::Optional as i32),
                r#type: Some(if type_name.is_some() {
                    Type::Message
                } else {
                    Type::String
                } as i32),
                type_name: type_name.map(str::to_owned),
                extendee: extendee.map(str::to_owned),
                ..Default::default()
            }
        };
        let message = |name: &str, fields: Vec<FieldDescriptorProto>| DescriptorProto {
            name: Some(name.to_owned()),
            field: fields,
            ..Default::default()
        };
        let file =
            |name: &str, imports: &[&str], messages: Vec<DescriptorProto>| FileDescriptorProto {
                name: Some(name.to_owned()),
                package: Some("pkg".to_owned()),
                dependency: imports.iter().map(|s| (*s).to_owned()).collect(),
                message_type: messages,
                syntax: Some("proto2".to_owned()),
                ..Default::default()
            };
        let mut base = message("Base", vec![field("b", 1, None, None)]);
        base.extension_range.push(descriptor_proto::ExtensionRange {
            start: Some(100),
            end: Some(200),
            ..Default::default()
        });
        let types = file(
            "types.proto",
            &[],
            vec![message("Opt", vec![field("o", 1, None, None)])],
        );
        let base = file("base.proto", &[], vec![base]);
        // An extension declared in a nested message makes its file whole, with its imports.
        let mut outer = message("Outer", vec![field("x", 1, None, None)]);
        let mut inner = message("Inner", vec![field("y", 1, Some(".pkg.Opt"), None)]);
        inner
            .extension
            .push(field("opt", 100, Some(".pkg.Opt"), Some(".pkg.Base")));
        outer.nested_type.push(inner);
        let ext = file("ext.proto", &["types.proto", "base.proto"], vec![outer]);
        let mut plain = message("Plain", vec![field("p", 1, Some(".pkg.Opt"), None)]);
        plain
            .nested_type
            .push(message("Deeper", vec![field("d", 1, None, None)]));
        plain.oneof_decl.push(Default::default());
        let plain = file("plain.proto", &["types.proto"], vec![plain]);
        let unrelated = file(
            "unrelated.proto",
            &[],
            vec![message("U", vec![field("u", 1, None, None)])],
        );
        let descriptors = Descriptors::load(
            [types, base, ext, plain, unrelated]
                .iter()
                .map(|f| f.encode_to_vec().into())
                .collect(),
        )
        .unwrap();
        let pool = descriptors.pool().unwrap();
        let fields = |name: &str| pool.get_message_by_name(name).unwrap().fields().count();
        for whole in ["pkg.Opt", "pkg.Base", "pkg.Outer", "pkg.Outer.Inner"] {
            assert_eq!(fields(whole), 1, "{whole}");
        }
        for names_only in ["pkg.Plain", "pkg.Plain.Deeper", "pkg.U"] {
            assert_eq!(fields(names_only), 0, "{names_only}");
        }
        assert!(pool.get_extension_by_name("pkg.Outer.Inner.opt").is_some());
        assert_eq!(pool.files().count(), 5);
    }

    #[test]
    fn an_import_after_its_importer_is_an_error_naming_both() {
        let error = Descriptors::load(vec![
            file("a.proto", &["b.proto"], ""),
            file("b.proto", &[], ""),
        ])
        .err()
        .unwrap();
        assert_eq!(
            error.to_string(),
            "invalid descriptors: `a.proto` imports `b.proto`, which is not before it in the request"
        );
    }
}
