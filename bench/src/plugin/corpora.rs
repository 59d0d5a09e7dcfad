//! The proto trees the plugin benchmark runs on: the generated corpus, the PyPI corpus (every
//! .proto of the googleapis-common-protos and grpcio-tools wheels) and any directory, each
//! checked with protoc alone first so every variant gets the same files that protoc accepts.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::corpus::Spec;
use crate::measure;

/// Which corpus, as named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Generated,
    Pypi,
    Dir(PathBuf),
}

impl std::str::FromStr for Source {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "generated" => Ok(Source::Generated),
            "pypi" => Ok(Source::Pypi),
            _ => match text.strip_prefix("dir:") {
                Some(path) if !path.is_empty() => Ok(Source::Dir(PathBuf::from(path))),
                _ => Err(format!(
                    "unknown corpus `{text}` (known: generated, pypi, dir:PATH)"
                )),
            },
        }
    }
}

/// A set of protos ready to compile: names relative to the include directories.
pub struct Corpus {
    pub name: String,
    /// Include directories, the corpus' own roots first, protoc's bundled includes last.
    pub includes: Vec<PathBuf>,
    pub files: Vec<String>,
    /// Files protoc alone rejects (left out of every variant).
    pub excluded: Vec<String>,
    /// A one-line description for the report.
    pub summary: String,
}

impl Corpus {
    /// The files as paths on disk (what build.rs users pass).
    pub fn paths(&self) -> Vec<PathBuf> {
        self.files
            .iter()
            .map(|name| {
                self.includes
                    .iter()
                    .map(|include| include.join(name))
                    .find(|path| path.is_file())
                    .unwrap_or_else(|| PathBuf::from(name))
            })
            .collect()
    }

    /// `-I` arguments for protoc.
    pub fn include_args(&self) -> Vec<String> {
        self.includes
            .iter()
            .map(|include| format!("-I{}", include.display()))
            .collect()
    }
}

/// Where the bench crate keeps its caches and tools (`bench/.cache`, `bench/.tools`).
pub fn bench_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Prepares `source` under `cache`, then leaves out what protoc alone rejects.
pub fn load(source: &Source, spec: Spec, cache: &Path, protoc: &Protoc) -> io::Result<Corpus> {
    let (name, roots, summary) = match source {
        Source::Generated => {
            let root = generated(spec, cache)?;
            let counts = spec.counts();
            let summary = format!(
                "generated: {} packages × {} files, {} services × {} methods ({} RPCs), {} messages",
                spec.packages,
                spec.files,
                counts.services,
                spec.methods,
                counts.rpcs,
                counts.messages
            );
            ("generated".to_owned(), vec![root], summary)
        }
        Source::Pypi => {
            let root = cache.join("pypi");
            if !root.join("grpc_tools").is_dir() {
                let script = bench_dir().join("scripts/fetch-corpora.sh");
                eprintln!("fetching the PyPI corpus with {}", script.display());
                let status = Command::new("bash").arg(&script).status()?;
                if !status.success() {
                    return Err(io::Error::other(format!("{} failed", script.display())));
                }
            }
            let roots = vec![
                root.join("googleapis-common-protos"),
                root.join("grpc_tools"),
            ];
            let summary =
                "pypi: every .proto of the googleapis-common-protos and grpcio-tools wheels";
            ("pypi".to_owned(), roots, summary.to_owned())
        }
        Source::Dir(path) => {
            let summary = format!("dir: every .proto under {}", path.display());
            (
                format!("dir:{}", path.display()),
                vec![path.clone()],
                summary,
            )
        }
    };
    let mut files = BTreeSet::new();
    for root in &roots {
        list_protos(root, root, &mut files)?;
    }
    if files.is_empty() {
        return Err(io::Error::other(format!(
            "no .proto files in corpus {name}"
        )));
    }
    let mut includes = roots;
    includes.push(protoc.include.clone());
    let mut corpus = Corpus {
        name,
        includes,
        files: files.into_iter().collect(),
        excluded: Vec::new(),
        summary,
    };
    exclude_rejected(&mut corpus, protoc, &cache.join("logs"))?;
    Ok(corpus)
}

/// Writes the generated corpus once per size (and generator version), atomically.
fn generated(spec: Spec, cache: &Path) -> io::Result<PathBuf> {
    const GENERATOR_VERSION: u32 = 1;
    let Spec {
        packages,
        files,
        services,
        methods,
        messages,
    } = spec;
    let root = cache.join(format!(
        "corpus/generated-v{GENERATOR_VERSION}-{packages}x{files}x{services}x{methods}x{messages}"
    ));
    if !root.is_dir() {
        let partial = root.with_extension("partial");
        let _ = std::fs::remove_dir_all(&partial);
        spec.write(&partial)?;
        std::fs::rename(&partial, &root)?;
    }
    Ok(root)
}

fn list_protos(root: &Path, dir: &Path, out: &mut BTreeSet<String>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            list_protos(root, &path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            let relative = path.strip_prefix(root).map_err(io::Error::other)?;
            let parts: Vec<_> = relative.iter().map(|p| p.to_string_lossy()).collect();
            out.insert(parts.join("/"));
        }
    }
    Ok(())
}

/// Runs protoc alone on the corpus; while it fails, leaves out the files its errors name (a file
/// that imports a broken one is named too). A failure naming none of them is an error.
fn exclude_rejected(corpus: &mut Corpus, protoc: &Protoc, logs: &Path) -> io::Result<()> {
    loop {
        let mut command = protoc.command(corpus);
        command
            .arg("--descriptor_set_out=/dev/null")
            .args(&corpus.files);
        let error = match measure::run_logged(&mut command, logs, "protoc-check") {
            Ok(_) => return Ok(()),
            Err(error) => error,
        };
        let stderr = std::fs::read_to_string(logs.join("protoc-check.stderr"))?;
        let named = rejected_files(&stderr, &corpus.files, &corpus.includes);
        if named.is_empty() {
            return Err(error);
        }
        corpus.files.retain(|file| !named.contains(file));
        corpus.excluded.extend(named);
        if corpus.files.is_empty() {
            return Err(io::Error::other("protoc rejects every file of the corpus"));
        }
    }
}

/// The corpus files that protoc's error lines (`file.proto:12:3: …`, `file.proto: …`) name,
/// by their name or by their path under an include directory.
fn rejected_files(stderr: &str, files: &[String], includes: &[PathBuf]) -> BTreeSet<String> {
    let known: BTreeSet<&str> = files.iter().map(String::as_str).collect();
    stderr
        .lines()
        .filter(|line| !line.contains(": warning:"))
        .filter_map(|line| line.split_once(':').map(|(file, _)| file.trim()))
        .map(|file| {
            includes
                .iter()
                .find_map(|include| Path::new(file).strip_prefix(include).ok())
                .and_then(Path::to_str)
                .unwrap_or(file)
        })
        .filter(|file| known.contains(file))
        .map(str::to_owned)
        .collect()
}

/// The vendored protoc and its bundled includes (google/protobuf/*.proto).
pub struct Protoc {
    pub path: PathBuf,
    pub include: PathBuf,
}

impl Protoc {
    pub fn vendored() -> io::Result<Protoc> {
        Ok(Protoc {
            path: protoc_bin_vendored::protoc_bin_path().map_err(io::Error::other)?,
            include: protoc_bin_vendored::include_path().map_err(io::Error::other)?,
        })
    }

    /// `protoc -I…` for the corpus, ready for outputs and file names.
    pub fn command(&self, corpus: &Corpus) -> Command {
        let mut command = Command::new(&self.path);
        command.args(corpus.include_args());
        command
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_names_parse() {
        assert_eq!("pypi".parse(), Ok(Source::Pypi));
        assert_eq!("dir:/tmp/x".parse(), Ok(Source::Dir("/tmp/x".into())));
        assert!("dir:".parse::<Source>().is_err());
        assert!("googleapis".parse::<Source>().is_err());
    }

    #[test]
    fn protoc_errors_name_the_files_to_leave_out() {
        let files = [
            "a/x.proto".to_owned(),
            "a/y.proto".to_owned(),
            "b.proto".to_owned(),
        ];
        let stderr = "a/x.proto:3:1: Import \"missing.proto\" was not found or had errors.\n\
                      missing.proto: File not found.\n\
                      b.proto:1:1: warning: Import c.proto is unused.\n\
                      /src/a/y.proto: \"Foo\" is not defined.\n";
        let named: Vec<_> = rejected_files(stderr, &files, &["/src".into()])
            .into_iter()
            .collect();
        assert_eq!(named, ["a/x.proto", "a/y.proto"]);
    }
}
