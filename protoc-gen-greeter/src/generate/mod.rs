//! From descriptors to files.
//!
//! The packages to write are cut into chunks of whole packages. Each chunk goes through the same
//! steps on one of the worker threads: prost-build writes its messages and resolves its message
//! types to Rust paths (it sees the chunk's files and everything they import, all it needs to
//! decide derives); then, per package, the method descriptions, servers and clients of its
//! services are generated, spliced after the messages and formatted. Finished files are handed
//! to the caller in package order as soon as every chunk before them is done, so the output is
//! the same whatever the thread count, and little is held at once.

mod client;
mod methods;
mod package;
mod server;

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use proc_macro2::TokenStream;
use prost_build::Module;
use quote::quote;

use crate::descriptors::Descriptors;
use crate::error::Error;
use crate::names;
use crate::options::Options;

/// The version written into every generated file's header.
const GENERATOR_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The runtime's code-generation interface this generator emits code for.
const CODEGEN_VERSION: u32 = 2;

/// prost-build's file name for items of the empty package.
const DEFAULT_PACKAGE_FILE: &str = "_";

/// Environment variable that sets the number of worker threads (default: the available cores).
pub const THREADS_ENV: &str = "PROTOC_GEN_GREETER_THREADS";

/// Chunks per worker thread: enough that a slow chunk does not leave the other threads idle at the
/// end, few enough that the imports each chunk re-reads stay a small share of the work.
const CHUNKS_PER_THREAD: usize = 4;

/// Inputs smaller than this (encoded descriptor bytes) are one chunk: threads would cost more than
/// they save.
const MIN_CHUNK_BYTES: usize = 512 * 1024;

/// One output file: its name relative to the output directory, and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    pub name: String,
    pub content: String,
}

/// What every generate_* function needs: the options and the runtime path.
pub(crate) struct Context<'a> {
    pub options: &'a Options,
    /// The runtime crate's path, as given in the options.
    pub runtime: syn::Path,
    /// The alias generated modules give the runtime's `__codegen` module.
    pub rt: TokenStream,
    /// The `use` that defines that alias, first in every generated module.
    pub rt_import: TokenStream,
}

impl<'a> Context<'a> {
    fn new(options: &'a Options) -> Result<Self, Error> {
        let runtime: syn::Path =
            syn::parse_str(&options.runtime_crate).map_err(|e| Error::InvalidOption {
                key: "runtime_crate".to_owned(),
                value: format!("{} ({e})", options.runtime_crate),
                expected: "a Rust path such as `::greeter_runtime`",
            })?;
        Ok(Self {
            options,
            rt_import: quote!(use #runtime::__codegen as rt;),
            rt: quote!(rt),
            runtime,
        })
    }
}

/// One proto package to write, and the input files it is made of.
pub(crate) struct PackagePlan {
    pub module: Module,
    pub sources: Vec<usize>,
}

/// Packages generated together, and every input file they need.
struct Chunk {
    packages: Vec<PackagePlan>,
    files: Vec<usize>,
}

/// Generates the files for `files_to_generate`, handing each to `emit` in a fixed order (package
/// files by package, then the include file).
pub fn generate(
    descriptors: &Descriptors,
    files_to_generate: &[String],
    options: &Options,
    emit: &mut dyn FnMut(GeneratedFile) -> Result<(), Error>,
) -> Result<(), Error> {
    generate_with(
        descriptors,
        files_to_generate,
        options,
        Parallelism::from_env(),
        emit,
    )
}

/// How generation is spread over threads.
#[derive(Debug, Clone, Copy)]
struct Parallelism {
    threads: usize,
    /// Inputs are cut into chunks of at least this many encoded descriptor bytes.
    min_chunk_bytes: usize,
}

impl Parallelism {
    /// [`THREADS_ENV`] threads, else one per available core.
    fn from_env() -> Self {
        let threads = std::env::var(THREADS_ENV)
            .ok()
            .and_then(|threads| threads.trim().parse::<NonZeroUsize>().ok())
            .or_else(|| std::thread::available_parallelism().ok())
            .map_or(1, NonZeroUsize::get);
        Self {
            threads,
            min_chunk_bytes: MIN_CHUNK_BYTES,
        }
    }
}

fn generate_with(
    descriptors: &Descriptors,
    files_to_generate: &[String],
    options: &Options,
    parallelism: Parallelism,
    emit: &mut dyn FnMut(GeneratedFile) -> Result<(), Error>,
) -> Result<(), Error> {
    let chunks = plan(descriptors, files_to_generate, parallelism)?;
    let mut written = Vec::new();
    run_chunks(
        descriptors,
        options,
        &chunks,
        parallelism.threads,
        &mut |files| {
            for file in files {
                written.push(file.name.clone());
                emit(file)?;
            }
            Ok(())
        },
    )?;
    if let Some(include_file) = &options.include_file {
        let modules: Vec<&Module> = chunks
            .iter()
            .flat_map(|chunk| &chunk.packages)
            .map(|package| &package.module)
            .filter(|module| written.contains(&module.to_file_name_or(DEFAULT_PACKAGE_FILE)))
            .collect();
        emit(GeneratedFile {
            name: include_file.clone(),
            content: generate_include_file(include_file, &modules, options.rustfmt)?,
        })?;
    }
    Ok(())
}

/// The packages to write, whole (a package's file is made from all its files, so that it is the
/// same whichever of them was asked for), cut into chunks of about equal input size.
fn plan(
    descriptors: &Descriptors,
    files_to_generate: &[String],
    parallelism: Parallelism,
) -> Result<Vec<Chunk>, Error> {
    let mut packages: BTreeMap<Module, Vec<usize>> = BTreeMap::new();
    for name in files_to_generate {
        let index = descriptors
            .index(name)
            .ok_or_else(|| Error::MissingFile(name.clone()))?;
        let package = &descriptors.files[index].package;
        packages.insert(Module::from_protobuf_package_name(package), Vec::new());
    }
    for (index, file) in descriptors.files.iter().enumerate() {
        let module = Module::from_protobuf_package_name(&file.package);
        if let Some(sources) = packages.get_mut(&module) {
            sources.push(index);
        }
    }
    let size = |sources: &[usize]| -> usize {
        sources
            .iter()
            .map(|&i| descriptors.files[i].bytes.len())
            .sum()
    };
    let total: usize = packages.values().map(|sources| size(sources)).sum();
    let target =
        (total / (parallelism.threads * CHUNKS_PER_THREAD)).max(parallelism.min_chunk_bytes);
    let mut chunks = Vec::new();
    let mut current: Vec<PackagePlan> = Vec::new();
    let mut current_size = 0;
    for (module, sources) in packages {
        current_size += size(&sources);
        current.push(PackagePlan { module, sources });
        if current_size >= target {
            chunks.push(std::mem::take(&mut current));
            current_size = 0;
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    Ok(chunks
        .into_iter()
        .map(|packages| Chunk {
            files: descriptors
                .with_imports(packages.iter().flat_map(|p| p.sources.iter().copied())),
            packages,
        })
        .collect())
}

/// Generates every chunk on up to `threads` threads and hands each chunk's files to
/// `emit` in chunk order. The first error in that order ends the run; workers stop taking chunks.
fn run_chunks(
    descriptors: &Descriptors,
    options: &Options,
    chunks: &[Chunk],
    threads: usize,
    emit: &mut dyn FnMut(Vec<GeneratedFile>) -> Result<(), Error>,
) -> Result<(), Error> {
    let threads = threads.min(chunks.len());
    if threads <= 1 {
        for chunk in chunks {
            emit(generate_chunk(descriptors, options, chunk)?)?;
        }
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (sender, receiver) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let sender = sender.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(chunk) = chunks.get(index) else {
                        break;
                    };
                    let result = generate_chunk(descriptors, options, chunk);
                    if sender.send((index, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        // Results arrive in any order; they are emitted in chunk order.
        let mut pending = BTreeMap::new();
        let mut next_to_emit = 0;
        let outcome = (|| {
            for (index, result) in &receiver {
                pending.insert(index, result);
                while let Some(result) = pending.remove(&next_to_emit) {
                    emit(result?)?;
                    next_to_emit += 1;
                }
            }
            Ok(())
        })();
        stop.store(true, Ordering::Relaxed);
        outcome
    })
}

/// One chunk, with a panic (in prost-build or here) turned into an error naming its packages.
fn generate_chunk(
    descriptors: &Descriptors,
    options: &Options,
    chunk: &Chunk,
) -> Result<Vec<GeneratedFile>, Error> {
    catch_unwind(AssertUnwindSafe(|| {
        package::generate_packages(descriptors, options, &chunk.packages, &chunk.files)
    }))
    .unwrap_or_else(|panic| {
        let packages: Vec<String> = chunk
            .packages
            .iter()
            .map(|p| p.module.to_file_name_or(DEFAULT_PACKAGE_FILE))
            .collect();
        Err(Error::Panic(format!(
            "{} (generating {})",
            panic_message(&panic),
            packages.join(", ")
        )))
    })
}

pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// The `include_file`: every package file nested in the modules of its package.
fn generate_include_file(
    file_name: &str,
    modules: &[&Module],
    rustfmt: bool,
) -> Result<String, Error> {
    #[derive(Default)]
    struct Tree {
        file: Option<String>,
        children: BTreeMap<String, Tree>,
    }
    fn render(tree: &Tree) -> TokenStream {
        let include = tree.file.as_ref().map(|file| quote!(include!(#file);));
        let children = tree.children.iter().map(|(name, child)| {
            let ident = names::ident(name);
            let body = render(child);
            quote!(pub mod #ident { #body })
        });
        quote!(#include #(#children)*)
    }
    let mut root = Tree::default();
    for module in modules {
        let node = module.parts().fold(&mut root, |node, part| {
            node.children.entry(part.to_owned()).or_default()
        });
        node.file = Some(module.to_file_name_or(DEFAULT_PACKAGE_FILE));
    }
    let file = syn::parse2::<syn::File>(render(&root)).map_err(|e| Error::Internal {
        file: file_name.to_owned(),
        message: e.to_string(),
    })?;
    let code = crate::format::format_file(&file, rustfmt).map_err(|message| Error::Rustfmt {
        file: file_name.to_owned(),
        message,
    })?;
    Ok(format!(
        "// @generated by protoc-gen-greeter {GENERATOR_VERSION}. Do not edit.\n{code}"
    ))
}

/// A message type as seen from a module nested one level inside the package module: relative
/// paths gain a `super::`; absolute paths and other types (`()`) stay as they are.
pub(crate) fn nested_type(ty: &syn::Type) -> TokenStream {
    match ty {
        syn::Type::Path(syn::TypePath { qself: None, path }) => {
            let is_absolute = path.leading_colon.is_some()
                || path
                    .segments
                    .first()
                    .is_some_and(|segment| segment.ident == "crate");
            if is_absolute {
                quote!(#path)
            } else {
                quote!(super::#path)
            }
        }
        other => quote!(#other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stress protos, compiled in pure Rust, as the generator's input.
    fn stress_descriptors() -> (Descriptors, Vec<String>) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/proto");
        let files = [
            "stress/common/v1/common.proto",
            "stress/api/v1/api.proto",
            "stress/type/type.proto",
            "stress/api/api.proto",
        ];
        let mut compiler = protox::Compiler::new([&root]).unwrap();
        compiler.include_imports(true).include_source_info(true);
        compiler.open_files(files).unwrap();
        let set = <crate::FileDescriptorSet as prost::Message>::decode(
            compiler.encode_file_descriptor_set().as_slice(),
        )
        .unwrap();
        let names = files.iter().map(|f| (*f).to_owned()).collect();
        (Descriptors::load(set.file).unwrap(), names)
    }

    fn run(parallelism: Parallelism, options: &Options) -> Result<Vec<GeneratedFile>, Error> {
        let (descriptors, names) = stress_descriptors();
        let mut files = Vec::new();
        generate_with(&descriptors, &names, options, parallelism, &mut |file| {
            files.push(file);
            Ok(())
        })?;
        Ok(files)
    }

    #[test]
    fn any_number_of_threads_and_chunks_gives_the_same_files_in_the_same_order() {
        let options = Options::parse("include_file=mod.rs").unwrap();
        let one = run(
            Parallelism {
                threads: 1,
                min_chunk_bytes: usize::MAX,
            },
            &options,
        )
        .unwrap();
        // One package per chunk, on more threads than chunks.
        let many = run(
            Parallelism {
                threads: 8,
                min_chunk_bytes: 1,
            },
            &options,
        )
        .unwrap();
        let names: Vec<&str> = one.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "stress.api.rs",
                "stress.api.v1.rs",
                "stress.common.v1.rs",
                "stress.r#type.rs",
                "mod.rs"
            ]
        );
        assert_eq!(one, many);
    }

    #[test]
    fn the_first_failing_chunk_in_order_is_the_error_reported() {
        let (descriptors, names) = stress_descriptors();
        let options = Options::default();
        let mut emitted = Vec::new();
        let error = generate_with(
            &descriptors,
            &names,
            &options,
            Parallelism {
                threads: 3,
                min_chunk_bytes: 1,
            },
            &mut |file| {
                emitted.push(file.name.clone());
                if file.name == "stress.api.v1.rs" {
                    return Err(Error::Write {
                        file: file.name,
                        message: "disk full".to_owned(),
                    });
                }
                Ok(())
            },
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot write `stress.api.v1.rs`: disk full"
        );
        assert_eq!(emitted, ["stress.api.rs", "stress.api.v1.rs"]);
    }
}
