//! Compiling with protox for build.rs, with each file's source info kept apart.
//!
//! protox's compiler checks every file into a `prost_reflect::DescriptorPool`, which keeps two
//! decoded copies of each file, source info (every comment and span) included. On googleapis that
//! pool is most of build.rs's peak memory. Here the files are read and parsed as protox reads
//! them, but each file's source info is taken out and kept encoded (a fraction of its decoded
//! size); the pool checks the files without it, and the set is written with each file's source
//! info put back. The set is the one protox writes on its own. The pool goes once the set is
//! written: the generator builds its own from the set, which holds only names, options and
//! services and is a fraction of this one (BENCHMARKS.md, "The generator's pool of names").
//!
//! One part of the source info changes in the pool: the locations of options, whose paths run
//! through `uninterpreted_option` (field 999) until the pool resolves each option and rewrites
//! them to the option's own path. So the locations with 999 in their path stay with the file the
//! pool checks, and the pool's rewritten ones take their places when the source info goes back.
//!
//! Anything this path does not handle as protox would (an error of any kind, a file given by a
//! path that an earlier include directory shadows) is compiled again by protox's own compiler, so
//! errors read exactly as protox writes them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use prost::Message;
use prost::encoding::{WireType, encode_key, encode_varint};
use prost_types::SourceCodeInfo;
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};

use crate::descriptors::{each_field, field_value};

/// `FileDescriptorProto.source_code_info`'s field number.
const SOURCE_CODE_INFO: u32 = 9;
/// `FileDescriptorSet.file`'s field number.
const FILE: u32 = 1;
/// `*Options.uninterpreted_option`'s field number, in the path of an option's location.
const UNINTERPRETED_OPTION: i32 = 999;

/// Compiles `protos` and everything they import into an encoded `FileDescriptorSet`, imports and
/// source info included, as `protox::Compiler` with both options set writes it.
pub(crate) fn compile(protos: &[&Path], includes: &[&Path]) -> Result<Vec<u8>, protox::Error> {
    let set = match compile_apart(protos, includes) {
        Some(set) => set,
        None => compile_whole(protos, includes)?,
    };
    give_back_freed_memory();
    Ok(set)
}

/// Returns to the system what the compile freed (protox's pool, the parsed files): glibc keeps
/// freed memory in the arena of the thread that freed it, here the build script's main thread,
/// and generation allocates from its worker threads' arenas, which cannot reuse it. On the
/// generated corpus (BENCHMARKS.md) that is 700 MB of build.rs's peak.
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            /// glibc's `malloc_trim(3)`: gives free pages of every arena back to the system.
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: `malloc_trim` takes no pointers and only releases memory that no allocation
        // holds; it is safe to call at any time, from any thread.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// protox's own compile: the fallback, and what errors are reported by.
fn compile_whole(protos: &[&Path], includes: &[&Path]) -> Result<Vec<u8>, protox::Error> {
    let mut compiler = protox::Compiler::new(includes)?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(protos)?;
    Ok(compiler.encode_file_descriptor_set())
}

/// The lean compile; `None` when protox's own compile must decide (an error, a shadowed file).
fn compile_apart(protos: &[&Path], includes: &[&Path]) -> Option<Vec<u8>> {
    let kept = Rc::new(Kept::default());
    let resolver = SourceInfoApart::new(includes, Rc::clone(&kept));
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true);
    compiler.open_files(protos).ok()?;
    let pool = compiler.descriptor_pool();
    drop(compiler);
    let opened = kept.opened.take();
    if protos
        .iter()
        .any(|proto| shadowed(proto, includes, &opened))
    {
        return None;
    }
    let source_info = kept.source_info.take();

    let mut set = Vec::new();
    let (mut fields, mut info) = (Vec::new(), Vec::new());
    for file in pool.files() {
        fields.clear();
        info.clear();
        let encoded_file = file.encode_to_vec();
        let mut checked_info: &[u8] = &[];
        each_field(&encoded_file, |tag, encoded| {
            if tag == SOURCE_CODE_INFO {
                checked_info = field_value(encoded);
            } else {
                fields.extend_from_slice(encoded);
            }
        })
        .ok()?;
        match source_info.get(file.name()) {
            Some(apart) => apart.merge(checked_info, &mut info)?,
            // Files the compiler brings (the well-known types) were checked whole.
            None => info.extend_from_slice(checked_info),
        }
        let info_len = if info.is_empty() {
            0
        } else {
            prost::encoding::key_len(SOURCE_CODE_INFO)
                + prost::length_delimiter_len(info.len())
                + info.len()
        };
        encode_key(FILE, WireType::LengthDelimited, &mut set);
        encode_varint((fields.len() + info_len) as u64, &mut set);
        set.extend_from_slice(&fields);
        if !info.is_empty() {
            encode_key(SOURCE_CODE_INFO, WireType::LengthDelimited, &mut set);
            encode_varint(info.len() as u64, &mut set);
            set.extend_from_slice(&info);
        }
    }
    Some(set)
}

/// Whether `proto`, given by its path, is not the file its name opens: an earlier include
/// directory holds a file of the same name (protox refuses this as shadowing).
fn shadowed(proto: &Path, includes: &[&Path], opened: &HashMap<String, PathBuf>) -> bool {
    let Some(name) = includes.iter().find_map(|include| {
        let relative = proto.strip_prefix(include).ok()?;
        let parts: Option<Vec<&str>> = relative.iter().map(|part| part.to_str()).collect();
        Some(parts?.join("/"))
    }) else {
        // Given relative to an include directory: opened by that name, nothing to compare.
        return false;
    };
    opened
        .get(&name)
        .is_some_and(|path| !same_path(path, proto))
}

fn same_path(a: &Path, b: &Path) -> bool {
    let normal = |p: &Path| -> Vec<std::ffi::OsString> {
        p.components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .map(|c| c.as_os_str().to_owned())
            .collect()
    };
    normal(a) == normal(b)
}

/// One file's source info, kept out of the pool.
struct Apart {
    /// The encoded `SourceCodeInfo`, as parsed.
    encoded: Vec<u8>,
    /// The positions of the locations that stayed with the file (option locations), in order.
    in_pool: Vec<usize>,
}

impl Apart {
    /// Splits `info`: what the pool must see (the option locations) and what is kept apart.
    fn split(info: SourceCodeInfo) -> (Self, Option<SourceCodeInfo>) {
        let encoded = info.encode_to_vec();
        let (in_pool, locations): (Vec<usize>, Vec<_>) = info
            .location
            .into_iter()
            .enumerate()
            .filter(|(_, location)| location.path.contains(&UNINTERPRETED_OPTION))
            .unzip();
        let for_pool = (!locations.is_empty()).then_some(SourceCodeInfo {
            location: locations,
        });
        (Self { encoded, in_pool }, for_pool)
    }

    /// Writes the whole source info into `out`: the kept locations, with the pool's (rewritten)
    /// option locations, `checked`, in their places. `None` if `checked` does not hold one
    /// location for each that stayed with the file.
    fn merge(&self, checked: &[u8], out: &mut Vec<u8>) -> Option<()> {
        let mut rewritten = Vec::with_capacity(self.in_pool.len());
        each_field(checked, |_, location| rewritten.push(location)).ok()?;
        if rewritten.len() != self.in_pool.len() {
            return None;
        }
        let mut next = self.in_pool.iter().zip(rewritten).peekable();
        let mut position = 0;
        each_field(&self.encoded, |_, location| {
            match next.next_if(|(at, _)| **at == position) {
                Some((_, rewritten)) => out.extend_from_slice(rewritten),
                None => out.extend_from_slice(location),
            }
            position += 1;
        })
        .ok()
    }
}

/// What the resolver keeps for after the compile.
#[derive(Default)]
struct Kept {
    /// Each file's source info, by file name.
    source_info: RefCell<HashMap<String, Apart>>,
    /// The path each file name was opened from.
    opened: RefCell<HashMap<String, PathBuf>>,
}

/// protox's include-path resolution (include directories in order, then the well-known types
/// protox bundles), handing the compiler each file without most of its source info.
struct SourceInfoApart {
    includes: Vec<PathBuf>,
    paths: ChainFileResolver,
    google: GoogleFileResolver,
    kept: Rc<Kept>,
}

impl SourceInfoApart {
    fn new(includes: &[&Path], kept: Rc<Kept>) -> Self {
        let mut paths = ChainFileResolver::new();
        for include in includes {
            paths.add(protox::file::IncludeFileResolver::new(
                include.to_path_buf(),
            ));
        }
        Self {
            includes: includes.iter().map(|i| i.to_path_buf()).collect(),
            paths,
            google: GoogleFileResolver::new(),
            kept,
        }
    }
}

impl FileResolver for SourceInfoApart {
    fn resolve_path(&self, path: &Path) -> Option<String> {
        self.paths.resolve_path(path)
    }

    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        for include in &self.includes {
            let path = include.join(name);
            let file = match File::open(name, &path) {
                Ok(file) => file,
                Err(error) if error.is_file_not_found() => continue,
                Err(error) => return Err(error),
            };
            let mut descriptor = file.file_descriptor_proto().clone();
            drop(file);
            if let Some(info) = descriptor.source_code_info.take() {
                let (apart, for_pool) = Apart::split(info);
                descriptor.source_code_info = for_pool;
                self.kept
                    .source_info
                    .borrow_mut()
                    .insert(name.to_owned(), apart);
            }
            self.kept.opened.borrow_mut().insert(name.to_owned(), path);
            return Ok(File::from_file_descriptor_proto(descriptor));
        }
        self.google.open_file(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::encoding::{DecodeContext, decode_key, skip_field};

    fn workspace() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    /// The stress set (imports across packages, custom options, comments everywhere) and the
    /// Greeter, with greeter/options.proto from the repository's include directory.
    fn inputs() -> (Vec<PathBuf>, Vec<PathBuf>) {
        let stress = workspace().join("tests/proto");
        let protos = workspace().join("proto");
        let files = [
            stress.join("stress/common/v1/common.proto"),
            stress.join("stress/api/v1/api.proto"),
            stress.join("stress/type/type.proto"),
            stress.join("stress/api/api.proto"),
            protos.join("greeter/v1/greeter.proto"),
        ];
        (files.to_vec(), vec![stress, protos])
    }

    fn refs(paths: &[PathBuf]) -> Vec<&Path> {
        paths.iter().map(PathBuf::as_path).collect()
    }

    /// Each file of an encoded set as its bytes without source info, and its source info.
    fn split(set: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut files = Vec::new();
        let mut rest = set;
        while !rest.is_empty() {
            let (tag, _) = decode_key(&mut rest).unwrap();
            assert_eq!(tag, FILE);
            let len = prost::encoding::decode_varint(&mut rest).unwrap() as usize;
            let (mut file, after) = rest.split_at(len);
            rest = after;
            let (mut fields, mut info) = (Vec::new(), Vec::new());
            while !file.is_empty() {
                let start = file;
                let (tag, wire_type) = decode_key(&mut file).unwrap();
                skip_field(wire_type, tag, &mut file, DecodeContext::default()).unwrap();
                let field = &start[..start.len() - file.len()];
                if tag == SOURCE_CODE_INFO {
                    info.extend_from_slice(field);
                } else {
                    fields.extend_from_slice(field);
                }
            }
            files.push((fields, info));
        }
        files
    }

    fn error_text(error: protox::Error) -> String {
        format!("{error:?}")
    }

    #[test]
    fn the_set_is_the_one_protox_writes() {
        let (files, includes) = inputs();
        let lean =
            compile_apart(&refs(&files), &refs(&includes)).expect("the lean path compiles it");
        let whole = compile_whole(&refs(&files), &refs(&includes)).unwrap();
        let (ours, protox) = (split(&lean), split(&whole));
        assert_eq!(ours.len(), protox.len());
        assert!(ours.len() > files.len(), "imports are in the set");
        for (index, (ours, protox)) in ours.iter().zip(&protox).enumerate() {
            assert!(ours.0 == protox.0, "file {index} differs");
            assert!(
                ours.1 == protox.1,
                "file {index}'s source info differs: {} vs {}",
                ours.1.len(),
                protox.1.len()
            );
        }
        let with_comments = ours.iter().filter(|(_, info)| info.len() > 100).count();
        assert!(with_comments >= files.len(), "source info was kept");
    }

    #[test]
    fn the_generator_s_pool_reads_custom_options_from_the_set() {
        let (files, includes) = inputs();
        let encoded = compile(&refs(&files), &refs(&includes)).unwrap();
        let set = prost_types::FileDescriptorSet::decode(encoded.as_slice()).unwrap();
        // As build.rs reads it: decoded into `prost_types`, the files would lose their custom
        // options.
        let raw = crate::FileDescriptorSet::decode(encoded.as_slice()).unwrap();
        let descriptors = crate::descriptors::Descriptors::load(raw.file).unwrap();
        let pool = descriptors.pool().unwrap();
        let in_set: Vec<&str> = set.file.iter().map(|f| f.name()).collect();
        let in_pool: Vec<String> = pool.files().map(|f| f.name().to_owned()).collect();
        assert_eq!(in_pool, in_set);
        // Custom options survive: the Greeter's contracts are readable from the pool.
        let contract = pool.get_extension_by_name("greeter.contract").unwrap();
        let service = pool.get_service_by_name("greeter.v1.Greeter").unwrap();
        let declaring = service
            .methods()
            .filter(|m| m.options().has_extension(&contract))
            .count();
        assert_eq!(declaring, 2);
        // The types an option is read through keep their fields; the Greeter's messages do not.
        let metadata = pool.get_message_by_name("greeter.Metadata").unwrap();
        assert!(metadata.fields().count() > 2);
        let request = service.methods().next().unwrap().input();
        assert!(request.name().ends_with("Request"), "{}", request.name());
        assert_eq!(request.fields().count(), 0);
        let in_file = |file: &str| set.file.iter().find(|f| f.name() == file).unwrap();
        assert!(
            in_file(request.parent_file().name())
                .message_type
                .iter()
                .any(|m| !m.field.is_empty()),
            "the set itself is whole"
        );
    }

    /// A directory of protos made for one test, removed after it.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str, files: &[(&str, &str)]) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "protoc-gen-greeter-protox-set-{name}-{}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            for (path, content) in files {
                let path = dir.join(path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, content).unwrap();
            }
            Self(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn errors_read_as_protox_writes_them() {
        let scratch = Scratch::new(
            "errors",
            &[
                (
                    "unknown.proto",
                    "syntax = \"proto3\";\nmessage A {\n  Missing b = 1;\n}\n",
                ),
                ("syntax.proto", "syntax = \"proto3\";\nmessage A {\n"),
                (
                    "imports.proto",
                    "syntax = \"proto3\";\nimport \"nowhere.proto\";\n",
                ),
            ],
        );
        for name in ["unknown.proto", "syntax.proto", "imports.proto"] {
            let file = scratch.0.join(name);
            let ours = compile(&[&file], &[&scratch.0]).err().map(error_text);
            let protox = compile_whole(&[&file], &[&scratch.0]).err().map(error_text);
            assert!(ours.is_some(), "{name} compiled");
            assert_eq!(ours, protox, "{name}");
        }
        let unknown = compile(&[&scratch.0.join("unknown.proto")], &[&scratch.0])
            .err()
            .map(|e| e.to_string())
            .unwrap();
        assert!(unknown.contains("Missing"), "{unknown}");
    }

    #[test]
    fn a_shadowed_file_is_refused_as_protox_refuses_it() {
        let scratch = Scratch::new(
            "shadow",
            &[
                ("first/x.proto", "syntax = \"proto3\";\nmessage First {}\n"),
                (
                    "second/x.proto",
                    "syntax = \"proto3\";\nmessage Second {}\n",
                ),
            ],
        );
        let (first, second) = (scratch.0.join("first"), scratch.0.join("second"));
        let file = second.join("x.proto");
        assert!(compile_apart(&[&file], &[&first, &second]).is_none());
        let ours = compile(&[&file], &[&first, &second]).err().map(error_text);
        let protox = compile_whole(&[&file], &[&first, &second])
            .err()
            .map(error_text);
        assert!(ours.is_some(), "a shadowed file compiled");
        assert_eq!(ours, protox);
        // The file the first directory holds is not shadowed.
        assert!(compile_apart(&[&first.join("x.proto")], &[&first, &second]).is_some());
    }
}
