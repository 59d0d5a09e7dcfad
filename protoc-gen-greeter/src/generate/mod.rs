//! From descriptors to files.
//!
//! Two kinds of work, spread over worker threads. prost-build writes the messages and resolves
//! message types to Rust paths; it must see the files it writes and everything they import (to
//! decide derives), so the packages are cut into chunks whose imports overlap little, and each
//! chunk is one prost-build run. Then each package is rendered on its own: its services'
//! method descriptions, servers and clients are generated, spliced after the messages, parsed
//! and formatted. Finished files are handed to the caller in package order as soon as every
//! package before them is done, so the output is the same whatever the thread count, and little
//! is held at once.

mod client;
mod contract;
mod hooks;
mod methods;
mod package;
mod server;
mod text;

use std::collections::{BTreeMap, HashSet};
use std::num::NonZeroUsize;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Condvar, Mutex, PoisonError, mpsc};

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
const CODEGEN_VERSION: u32 = 5;

/// prost-build's file name for items of the empty package.
const DEFAULT_PACKAGE_FILE: &str = "_";

/// Environment variable that sets the number of worker threads (default: the available cores).
pub const THREADS_ENV: &str = "PROTOC_GEN_GREETER_THREADS";

/// prost-build chunks per worker thread at most: enough that the threads are busy from the start,
/// few enough that the imports each chunk re-reads stay a small share of the work.
const CHUNKS_PER_THREAD: usize = 4;

/// How much more input all chunks' prost-build runs may read than one run over everything would,
/// for the cut to be worth it. Packages that import each other in long chains make every chunk
/// re-read most of the input; they get fewer chunks, down to one.
const MAX_DUPLICATION: f64 = 1.25;

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

/// Packages that go through prost-build together, and every input file they need.
struct Chunk {
    packages: Range<usize>,
    files: Vec<usize>,
}

/// The packages to write, in order, and how they are cut into prost-build chunks.
struct Plan {
    packages: Vec<PackagePlan>,
    chunks: Vec<Chunk>,
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
    /// [`MAX_DUPLICATION`], but for tests that cut whatever the imports cost.
    max_duplication: f64,
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
            max_duplication: MAX_DUPLICATION,
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
    let plan = plan(descriptors, files_to_generate, parallelism)?;
    let mut written = Vec::new();
    let generated = run_plan(
        descriptors,
        options,
        &plan,
        parallelism.threads,
        &mut |file| {
            written.push(file.name.clone());
            emit(file)
        },
    );
    // Descriptors that make no pool are reported as such, whatever else failed, and even when
    // nothing rendered needed the pool.
    descriptors.pool()?;
    generated?;
    if let Some(include_file) = &options.include_file {
        let modules: Vec<&Module> = plan
            .packages
            .iter()
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
/// same whichever of them was asked for), and the most prost-build chunks (of about equal input
/// size) whose re-read imports stay within [`MAX_DUPLICATION`].
fn plan(
    descriptors: &Descriptors,
    files_to_generate: &[String],
    parallelism: Parallelism,
) -> Result<Plan, Error> {
    let mut by_module: BTreeMap<Module, Vec<usize>> = BTreeMap::new();
    for name in files_to_generate {
        let index = descriptors
            .index(name)
            .ok_or_else(|| Error::MissingFile(name.clone()))?;
        let package = &descriptors.files[index].package;
        by_module.insert(Module::from_protobuf_package_name(package), Vec::new());
    }
    for (index, file) in descriptors.files.iter().enumerate() {
        let module = Module::from_protobuf_package_name(&file.package);
        if let Some(sources) = by_module.get_mut(&module) {
            sources.push(index);
        }
    }
    let packages: Vec<PackagePlan> = by_module
        .into_iter()
        .map(|(module, sources)| PackagePlan { module, sources })
        .collect();
    let bytes = |files: &[usize]| -> usize {
        files
            .iter()
            .map(|&i| descriptors.files[i].bytes.len())
            .sum()
    };
    let chunk_files = |range: Range<usize>| {
        descriptors.with_imports(
            packages[range]
                .iter()
                .flat_map(|p| p.sources.iter().copied()),
        )
    };
    // What prost-build reads for a chunk: its own files whole, the files it only imports without
    // their comments (and it writes no code for them: `package::graph_only`).
    let read = |range: Range<usize>, files: &[usize]| -> usize {
        let owned: HashSet<usize> = packages[range]
            .iter()
            .flat_map(|p| p.sources.iter().copied())
            .collect();
        files
            .iter()
            .map(|&i| {
                let file = &descriptors.files[i];
                if owned.contains(&i) {
                    file.bytes.len()
                } else {
                    file.declared_len
                }
            })
            .sum()
    };
    let sizes: Vec<usize> = packages.iter().map(|p| bytes(&p.sources)).collect();
    let total: usize = sizes.iter().sum();
    let single = read(0..packages.len(), &chunk_files(0..packages.len()));
    let mut count = parallelism.threads * CHUNKS_PER_THREAD;
    let chunks = loop {
        let target = (total / count.max(1)).max(parallelism.min_chunk_bytes);
        let chunks: Vec<Chunk> = cut(&sizes, target)
            .into_iter()
            .map(|packages| Chunk {
                files: chunk_files(packages.clone()),
                packages,
            })
            .collect();
        let read: usize = chunks
            .iter()
            .map(|chunk| read(chunk.packages.clone(), &chunk.files))
            .sum();
        if chunks.len() <= 1 || read as f64 <= parallelism.max_duplication * single as f64 {
            break chunks;
        }
        count = chunks.len() / 2;
    };
    Ok(Plan { packages, chunks })
}

/// Consecutive ranges of packages of about `target` bytes each.
fn cut(sizes: &[usize], target: usize) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut size = 0;
    for (index, package) in sizes.iter().enumerate() {
        size += package;
        if size >= target {
            ranges.push(start..index + 1);
            start = index + 1;
            size = 0;
        }
    }
    if start < sizes.len() {
        ranges.push(start..sizes.len());
    }
    ranges
}

/// A task for a worker thread.
enum Task {
    /// Run prost-build for a chunk.
    Build(usize),
    /// Render a package whose chunk is built.
    Render(usize, package::PackageParts),
}

/// What the workers share.
struct Queue {
    next_chunk: usize,
    /// Chunks being built: until they are done, idle workers wait for their packages.
    building: usize,
    /// Built packages waiting to be rendered, by package index.
    ready: BTreeMap<usize, package::PackageParts>,
    stop: bool,
}

/// Generates every package of `plan` on up to `threads` threads and hands the files to `emit` in
/// package order. The first error in that order ends the run, and the workers stop.
fn run_plan(
    descriptors: &Descriptors,
    options: &Options,
    plan: &Plan,
    threads: usize,
    emit: &mut dyn FnMut(GeneratedFile) -> Result<(), Error>,
) -> Result<(), Error> {
    let build = |chunk: &Chunk| {
        guarded(&plan.packages[chunk.packages.clone()], || {
            package::build_packages(
                descriptors,
                options,
                &plan.packages[chunk.packages.clone()],
                &chunk.files,
            )
        })
    };
    let render = |index: usize, parts| {
        let package = &plan.packages[index];
        guarded(std::slice::from_ref(package), || {
            package::render_package(descriptors, options, package, parts)
        })
    };
    let threads = threads.min(plan.packages.len());
    if threads <= 1 {
        for chunk in &plan.chunks {
            let built = build(chunk)?;
            for (index, parts) in chunk.packages.clone().zip(built) {
                if let Some(file) = render(index, parts)? {
                    emit(file)?;
                }
            }
        }
        return Ok(());
    }
    let queue = Mutex::new(Queue {
        next_chunk: 0,
        building: 0,
        ready: BTreeMap::new(),
        stop: false,
    });
    let lock = || queue.lock().unwrap_or_else(PoisonError::into_inner);
    let wake = Condvar::new();
    let (sender, receiver) = mpsc::channel();
    std::thread::scope(|scope| {
        // Only rendering needs the pool: it is built beside the first prost-build chunks. With
        // one chunk it waits until that chunk is built, when prost-build's memory is freed: on
        // the generated corpus (BENCHMARKS.md) that keeps the peak 180 MB lower (1.10 against
        // 1.28 GB) for no wall time that shows above the noise.
        if plan.chunks.len() > 1 {
            scope.spawn(|| descriptors.pool().map(|_| ()));
        }
        for _ in 0..threads {
            let sender = sender.clone();
            let (lock, wake, build, render) = (&lock, &wake, &build, &render);
            scope.spawn(move || {
                loop {
                    let task = {
                        let mut queue = lock();
                        loop {
                            if queue.stop {
                                break None;
                            }
                            // Rendering first, lowest package first: files leave in order and
                            // built packages do not pile up.
                            if let Some((index, parts)) = queue.ready.pop_first() {
                                break Some(Task::Render(index, parts));
                            }
                            if queue.next_chunk < plan.chunks.len() {
                                queue.next_chunk += 1;
                                queue.building += 1;
                                break Some(Task::Build(queue.next_chunk - 1));
                            }
                            if queue.building == 0 {
                                break None;
                            }
                            queue = wake.wait(queue).unwrap_or_else(PoisonError::into_inner);
                        }
                    };
                    let sent = match task {
                        None => break,
                        Some(Task::Render(index, parts)) => {
                            sender.send((index, render(index, parts))).is_ok()
                        }
                        Some(Task::Build(chunk)) => {
                            let chunk = &plan.chunks[chunk];
                            let built = build(chunk);
                            let mut queue = lock();
                            queue.building -= 1;
                            let sent = match built {
                                Ok(parts) => {
                                    queue.ready.extend(chunk.packages.clone().zip(parts));
                                    true
                                }
                                // Reported at the chunk's first package: nothing after it is
                                // emitted.
                                Err(error) => {
                                    sender.send((chunk.packages.start, Err(error))).is_ok()
                                }
                            };
                            drop(queue);
                            wake.notify_all();
                            sent
                        }
                    };
                    if !sent {
                        break;
                    }
                }
            });
        }
        drop(sender);
        // Results arrive in any order; files are emitted in package order.
        let mut pending = BTreeMap::new();
        let mut next = 0;
        let outcome = (|| {
            for (index, result) in &receiver {
                pending.insert(index, result);
                while let Some(result) = pending.remove(&next) {
                    if let Some(file) = result? {
                        emit(file)?;
                    }
                    next += 1;
                }
            }
            Ok(())
        })();
        lock().stop = true;
        wake.notify_all();
        outcome
    })
}

/// Runs one step, with a panic (in prost-build or here) turned into an error naming the packages.
fn guarded<T>(
    packages: &[PackagePlan],
    step: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    catch_unwind(AssertUnwindSafe(step)).unwrap_or_else(|panic| {
        let names: Vec<String> = packages
            .iter()
            .map(|p| p.module.to_file_name_or(DEFAULT_PACKAGE_FILE))
            .collect();
        Err(Error::Panic(format!(
            "{} (generating {})",
            panic_message(&panic),
            names.join(", ")
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
/// paths gain a `super::`; absolute paths, primitives (prost-build's `bool`, `u64`, … for the
/// wrapper types) and other types (`()`) stay as they are.
pub(crate) fn nested_type(ty: &syn::Type) -> TokenStream {
    match ty {
        syn::Type::Path(syn::TypePath { qself: None, path }) => {
            if needs_super(path) {
                quote!(super::#path)
            } else {
                quote!(#path)
            }
        }
        other => quote!(#other),
    }
}

/// Whether a message type's path is relative to the package module, so that a nested module
/// must reach it through `super::`: not when it is absolute (`::a::B`, `crate::a::B`) or a
/// primitive type, which prost-build gives the wrapper types (`google.protobuf.BoolValue` is
/// `bool`; proto message names never spell one, as prost-build capitalizes them).
pub(crate) fn needs_super(path: &syn::Path) -> bool {
    const PRIMITIVES: [&str; 7] = ["bool", "f32", "f64", "i32", "i64", "u32", "u64"];
    let absolute = path.leading_colon.is_some()
        || path
            .segments
            .first()
            .is_some_and(|segment| segment.ident == "crate");
    let primitive = path.segments.len() == 1
        && PRIMITIVES
            .iter()
            .any(|primitive| path.segments[0].ident == primitive);
    !absolute && !primitive
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// The stress protos, compiled in pure Rust, as the generator's input.
    fn stress_descriptors() -> (Descriptors, Vec<String>) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/proto");
        let files = [
            "stress/common/v1/common.proto",
            "stress/api/v1/api.proto",
            "stress/type/type.proto",
            "stress/api/api.proto",
        ];
        // greeter/options.proto, which the stress set's contracts import.
        let options = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto");
        let mut compiler = protox::Compiler::new([&root, &options]).unwrap();
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
                max_duplication: MAX_DUPLICATION,
            },
            &options,
        )
        .unwrap();
        // One package per chunk, on more threads than chunks.
        let many = run(
            Parallelism {
                threads: 8,
                min_chunk_bytes: 1,
                max_duplication: MAX_DUPLICATION,
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

    /// Eight packages of one 10 kB file each, of comments or of declarations; with `chain`, each
    /// imports the one before.
    fn packages(chain: bool, comments: bool) -> (Descriptors, Vec<String>) {
        let files: Vec<prost::bytes::Bytes> = (0..8)
            .map(|i| {
                let text = "x".repeat(10_000);
                prost_types::FileDescriptorProto {
                    name: Some(format!("p{i}.proto")),
                    package: Some(format!("p{i}")),
                    dependency: if chain && i > 0 {
                        vec![format!("p{}.proto", i - 1)]
                    } else {
                        Vec::new()
                    },
                    syntax: Some("proto3".to_owned()),
                    source_code_info: comments.then(|| prost_types::SourceCodeInfo {
                        location: vec![prost_types::source_code_info::Location {
                            leading_comments: Some(text.clone()),
                            ..Default::default()
                        }],
                    }),
                    options: (!comments).then(|| prost_types::FileOptions {
                        java_package: Some(text.clone()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }
                .encode_to_vec()
                .into()
            })
            .collect();
        let names = (0..8).map(|i| format!("p{i}.proto")).collect();
        (Descriptors::load(files).unwrap(), names)
    }

    fn chunk_ranges(chain: bool, comments: bool) -> Vec<Range<usize>> {
        let (descriptors, names) = packages(chain, comments);
        let parallelism = Parallelism {
            threads: 2,
            min_chunk_bytes: 1,
            max_duplication: MAX_DUPLICATION,
        };
        let plan = plan(&descriptors, &names, parallelism).unwrap();
        plan.chunks
            .into_iter()
            .map(|chunk| chunk.packages)
            .collect()
    }

    #[test]
    fn independent_packages_are_built_in_several_chunks() {
        for comments in [true, false] {
            assert_eq!(
                chunk_ranges(false, comments),
                (0..8).map(|i| i..i + 1).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn packages_importing_each_other_in_a_chain_are_cut_when_the_imports_are_light() {
        // A chunk reads what it only imports without comments: mostly comments, the chain is cut
        // about as finely as independent packages are (the first file, which imports nothing, is
        // a little smaller than the others).
        let cut = chunk_ranges(true, true);
        assert!(cut.len() >= 7, "{cut:?}");
        // Mostly declarations: any cut would make later chunks re-read every package before them.
        assert_eq!(chunk_ranges(true, false), vec![Range { start: 0, end: 8 }]);
    }

    /// Messages of one package hold messages of another that allow `Copy`, `Eq`, both or
    /// neither, through one field or several, directly or through a third package: cut into one
    /// chunk per package, where the second and third read the first only as `graph_only` leaves
    /// it, the files are the ones a single run writes.
    #[test]
    fn a_chunk_derives_for_imported_messages_as_a_whole_run_does() {
        let dir = std::env::temp_dir().join(format!("greeter-graph-only-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sources = [
            (
                "a.proto",
                r#"syntax = "proto3"; package a;
                message Ints { int32 n = 1; Flag flag = 2; enum Kind { K = 0; } Kind kind = 3; }
                message Flag { bool on = 1; }
                message Text { int64 n = 1; string s = 2; double d = 3; oneof o { int32 x = 4; string y = 5; } }
                message Real { float f = 1; sint32 k = 2; Flag flag = 3; }
                message Many { repeated int32 r = 1; Ints ints = 2; }
                message Entries { map<string, Flag> m = 1; }
                message Nested { message Inner { bytes b = 1; } Inner inner = 1; optional int32 o = 2; }
                message Deep { Real real = 1; Ints ints = 2; }"#,
            ),
            (
                "c.proto",
                r#"syntax = "proto3"; package c; import "a.proto";
                message Via { a.Deep deep = 1; a.Ints ints = 2; }"#,
            ),
            (
                "b.proto",
                r#"syntax = "proto3"; package b; import "a.proto"; import "c.proto";
                message HoldsInts { a.Ints v = 1; }
                message HoldsText { a.Text v = 1; }
                message HoldsReal { a.Real v = 1; }
                message HoldsMany { a.Many v = 1; }
                message HoldsEntries { a.Entries v = 1; }
                message HoldsNested { a.Nested v = 1; a.Nested.Inner w = 2; }
                message HoldsDeep { a.Deep v = 1; }
                message HoldsVia { c.Via v = 1; int32 n = 2; }"#,
            ),
        ];
        for (name, text) in sources {
            std::fs::write(dir.join(name), text).unwrap();
        }
        let mut compiler = protox::Compiler::new([&dir]).unwrap();
        compiler.include_imports(true).include_source_info(true);
        compiler
            .open_files(["a.proto", "c.proto", "b.proto"])
            .unwrap();
        let set = compiler.encode_file_descriptor_set();
        std::fs::remove_dir_all(&dir).unwrap();
        let set = <crate::FileDescriptorSet as prost::Message>::decode(set.as_slice()).unwrap();
        let descriptors = Descriptors::load(set.file).unwrap();
        let names: Vec<String> = ["a.proto", "b.proto", "c.proto"]
            .map(str::to_owned)
            .to_vec();
        let generate = |parallelism: Parallelism| {
            let plan = plan(&descriptors, &names, parallelism).unwrap();
            let mut files = Vec::new();
            generate_with(
                &descriptors,
                &names,
                &Options::default(),
                parallelism,
                &mut |file| {
                    files.push(file);
                    Ok(())
                },
            )
            .unwrap();
            (plan.chunks.len(), files)
        };
        let (one_chunk, whole) = generate(Parallelism {
            threads: 1,
            min_chunk_bytes: usize::MAX,
            max_duplication: MAX_DUPLICATION,
        });
        let (chunks, cut) = generate(Parallelism {
            threads: 3,
            min_chunk_bytes: 1,
            max_duplication: f64::INFINITY,
        });
        assert_eq!((one_chunk, chunks), (1, 3));
        assert_eq!(whole, cut);
        // The derives differ from message to message, so the comparison can tell.
        let b = &whole.iter().find(|f| f.name == "b.rs").unwrap().content;
        let derive_of = |message: &str| {
            let at = b.find(&format!("pub struct {message} ")).unwrap();
            let derive = b[..at].rfind("#[derive(").unwrap();
            b[derive..at].lines().next().unwrap().to_owned()
        };
        let derives: Vec<String> = [
            "HoldsInts",
            "HoldsText",
            "HoldsReal",
            "HoldsMany",
            "HoldsDeep",
            "HoldsVia",
        ]
        .map(derive_of)
        .to_vec();
        assert!(
            derives[0].contains("Copy") && derives[0].contains("Eq, Hash"),
            "{derives:?}"
        );
        assert!(
            !derives[1].contains("Copy") && !derives[1].contains("Eq, Hash"),
            "{derives:?}"
        );
        assert!(
            derives[2].contains("Copy") && !derives[2].contains("Eq, Hash"),
            "{derives:?}"
        );
        assert!(
            !derives[3].contains("Copy") && derives[3].contains("Eq, Hash"),
            "{derives:?}"
        );
        assert!(
            derives[4].contains("Copy") && !derives[4].contains("Eq, Hash"),
            "{derives:?}"
        );
        assert_eq!(derives[4], derives[5]);
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
                max_duplication: MAX_DUPLICATION,
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
