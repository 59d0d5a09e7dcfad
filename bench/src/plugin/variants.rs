//! The ways of turning a corpus into code that the plugin benchmark puts side by side, and one
//! measured run of each.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::corpora::{Corpus, Protoc};
use crate::measure::{self, Usage};

/// One way to process a corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `protoc --descriptor_set_out`: the floor every plugin run stands on.
    ProtocAlone,
    /// `protoc --greeter_out` with default options (messages, servers, clients; formatted).
    Greeter,
    /// `protoc --greeter_out` with a plugin that answers at once with what protoc-gen-greeter
    /// answered this corpus (recorded before the rounds): what protoc itself spends on sending
    /// this request and writing this output, the floor under any plugin that writes it.
    GreeterAnswered,
    /// `protoc --prost_out --tonic_out` in one run, as users pair them.
    ProstTonic,
    /// `protoc --greeter_out --greeter_opt=messages=false`: services only.
    GreeterServices,
    /// `protoc --tonic_out --tonic_opt=no_include`: services only.
    TonicAlone,
    /// build.rs: `protoc_gen_greeter::configure()…compile_protos` (protox, no protoc).
    BuildRsGreeter,
    /// build.rs: `tonic_prost_build::configure()…compile_protos` with the vendored protoc.
    BuildRsTonic,
}

impl Variant {
    pub fn label(self) -> &'static str {
        match self {
            Variant::ProtocAlone => "protoc alone (--descriptor_set_out)",
            Variant::Greeter => "protoc + protoc-gen-greeter",
            Variant::GreeterAnswered => "protoc + an instant plugin answering greeter's output",
            Variant::ProstTonic => "protoc + protoc-gen-prost + protoc-gen-tonic",
            Variant::GreeterServices => "protoc + protoc-gen-greeter messages=false",
            Variant::TonicAlone => "protoc + protoc-gen-tonic no_include",
            Variant::BuildRsGreeter => "build.rs: protoc-gen-greeter (protox)",
            Variant::BuildRsTonic => "build.rs: tonic-prost-build (protoc)",
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Variant::ProtocAlone => "protoc",
            Variant::Greeter => "greeter",
            Variant::GreeterAnswered => "greeter-answered",
            Variant::ProstTonic => "prost-tonic",
            Variant::GreeterServices => "greeter-services",
            Variant::TonicAlone => "tonic",
            Variant::BuildRsGreeter => "build-rs-greeter",
            Variant::BuildRsTonic => "build-rs-tonic",
        }
    }
}

/// The plugin programs the variants run.
pub struct Tools {
    pub protoc: Protoc,
    pub greeter: PathBuf,
    /// Extra `--greeter_opt` options for the protoc-gen-greeter variants.
    pub greeter_opt: Option<String>,
    /// protoc-gen-prost and protoc-gen-tonic, when installed.
    pub peers: Option<(PathBuf, PathBuf)>,
}

/// What one run of a variant cost.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The whole process: protoc with its plugins, or the build.rs child.
    pub total: Usage,
    /// Each plugin process protoc started, by plugin name.
    pub plugins: Vec<(&'static str, Usage)>,
    /// Files written and their total size in bytes.
    pub output: (usize, u64),
}

impl Sample {
    pub fn plugin(&self, name: &str) -> Option<&Usage> {
        self.plugins
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, u)| u)
    }
}

/// Runs `variant` once on `corpus`, writing under `work` (emptied first, not timed).
pub fn run(
    variant: Variant,
    corpus: &Corpus,
    files_list: &Path,
    tools: &Tools,
    work: &Path,
) -> io::Result<Sample> {
    let out = work.join("out").join(variant.slug());
    let records = work.join("records");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;
    std::fs::create_dir_all(&records)?;
    let logs = work.join("logs");
    let mut plugins: Vec<(&'static str, PathBuf)> = Vec::new();
    let mut wrap = |name: &'static str, program: &Path| -> io::Result<String> {
        let record = records.join(format!("{name}.usage"));
        let _ = std::fs::remove_file(&record);
        let wrapper = records.join(format!("protoc-gen-{name}"));
        measure::write_wrapper(&wrapper, &record, program)?;
        plugins.push((name, record));
        Ok(format!("--plugin=protoc-gen-{name}={}", wrapper.display()))
    };
    let peers = || {
        tools
            .peers
            .as_ref()
            .ok_or_else(|| io::Error::other("protoc-gen-prost/protoc-gen-tonic are not installed"))
    };
    let out_arg = |flag: &str| format!("--{flag}_out={}", out.display());

    let mut command = match variant {
        Variant::BuildRsGreeter | Variant::BuildRsTonic => {
            let tool = if variant == Variant::BuildRsGreeter {
                "greeter"
            } else {
                "tonic-prost-build"
            };
            let includes = build_rs_includes(tool, corpus, &tools.protoc);
            let mut command = build_rs_command(tool, &includes, files_list, &out)?;
            if variant == Variant::BuildRsTonic {
                command.env("PROTOC", &tools.protoc.path);
            } else {
                // With PROTOC set our builder would use protoc; its users' default is protox.
                command.env_remove("PROTOC");
            }
            command
        }
        _ => {
            let mut command = tools.protoc.command(corpus);
            match variant {
                Variant::ProtocAlone => {
                    let set = out.join("descriptors.pb");
                    command.arg(format!("--descriptor_set_out={}", set.display()));
                }
                Variant::Greeter | Variant::GreeterServices => {
                    command.arg(wrap("greeter", &tools.greeter)?);
                    command.arg(out_arg("greeter"));
                    command.args(greeter_opt(tools, variant == Variant::GreeterServices));
                }
                Variant::GreeterAnswered => {
                    let answer = answer_path(work);
                    if !answer.is_file() {
                        return Err(io::Error::other(format!(
                            "no recorded answer at {}",
                            answer.display()
                        )));
                    }
                    let answering = records.join("answer-greeter");
                    write_answer_script(&answering, &answer, None)?;
                    command.arg(wrap("greeter", &answering)?);
                    command.arg(out_arg("greeter"));
                }
                Variant::ProstTonic => {
                    let (prost, tonic) = peers()?;
                    command.arg(wrap("prost", prost)?).arg(out_arg("prost"));
                    command.arg(wrap("tonic", tonic)?).arg(out_arg("tonic"));
                }
                Variant::TonicAlone => {
                    let (_, tonic) = peers()?;
                    command.arg(wrap("tonic", tonic)?).arg(out_arg("tonic"));
                    command.arg("--tonic_opt=no_include");
                }
                Variant::BuildRsGreeter | Variant::BuildRsTonic => unreachable!(),
            }
            command.args(&corpus.files);
            command
        }
    };
    let total = measure::run_logged(&mut command, &logs, variant.slug())?;
    let plugins = plugins
        .into_iter()
        .map(|(name, record)| Ok((name, measure::read_record(&record)?)))
        .collect::<io::Result<Vec<_>>>()?;
    Ok(Sample {
        total,
        plugins,
        output: output_size(&out)?,
    })
}

/// The `--greeter_opt` argument of the greeter variants, if any.
fn greeter_opt(tools: &Tools, services_only: bool) -> Option<String> {
    let mut options: Vec<&str> = tools.greeter_opt.iter().map(String::as_str).collect();
    if services_only {
        options.push("messages=false");
    }
    (!options.is_empty()).then(|| format!("--greeter_opt={}", options.join(",")))
}

/// Where [`record_answer`] keeps protoc-gen-greeter's answer to a corpus.
fn answer_path(work: &Path) -> PathBuf {
    work.join("records").join("greeter-answer.pb")
}

/// Runs protoc + protoc-gen-greeter once on `corpus`, untimed, keeping the plugin's answer (its
/// `CodeGeneratorResponse`) for [`Variant::GreeterAnswered`].
pub fn record_answer(corpus: &Corpus, tools: &Tools, work: &Path) -> io::Result<()> {
    let records = work.join("records");
    let out = work.join("out").join("greeter-recording");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;
    let recorder = records.join("record-greeter");
    write_answer_script(&recorder, &answer_path(work), Some(&tools.greeter))?;
    let mut command = tools.protoc.command(corpus);
    command
        .arg(format!(
            "--plugin=protoc-gen-greeter={}",
            recorder.display()
        ))
        .arg(format!("--greeter_out={}", out.display()))
        .args(greeter_opt(tools, false))
        .args(&corpus.files);
    measure::run_logged(&mut command, &work.join("logs"), "greeter-recording")?;
    std::fs::remove_dir_all(&out)
}

/// Writes an executable `/bin/sh` script at `path` that execs `greeter-bench answer-child`:
/// answering with `answer`, or recording what `plugin` answers into it.
fn write_answer_script(path: &Path, answer: &Path, plugin: Option<&Path>) -> io::Result<()> {
    let mut arguments = format!("answer-child --answer '{}'", answer.display());
    if let Some(plugin) = plugin {
        arguments.push_str(&format!(" -- '{}'", plugin.display()));
    }
    measure::write_bench_script(path, &arguments)
}

/// Flags of the hidden `greeter-bench answer-child` subcommand: a plugin for protoc that
/// answers with a recorded `CodeGeneratorResponse` as soon as it has read the request, or that
/// records what a real plugin answers.
#[derive(clap::Args)]
pub struct AnswerArgs {
    /// The recorded answer: read to answer with, written when recording.
    #[arg(long)]
    answer: PathBuf,
    /// Record instead: run this plugin on our standard input, pass its answer on and keep it.
    #[arg(last = true)]
    plugin: Vec<String>,
}

/// `answer-child`: answer protoc at once with a recorded answer, or record a plugin's.
pub fn answer_child(args: AnswerArgs) -> Result<(), Box<dyn std::error::Error>> {
    use std::io::Write;
    let answer = match args.plugin.split_first() {
        None => {
            io::copy(&mut io::stdin().lock(), &mut io::sink())?;
            std::fs::read(&args.answer)?
        }
        Some((program, rest)) => {
            let output = Command::new(program)
                .args(rest)
                .stdin(std::process::Stdio::inherit())
                .stderr(std::process::Stdio::inherit())
                .output()?;
            if !output.status.success() {
                return Err(format!("{program} failed: {}", output.status).into());
            }
            std::fs::write(&args.answer, &output.stdout)?;
            output.stdout
        }
    };
    let mut stdout = io::stdout().lock();
    stdout.write_all(&answer)?;
    stdout.flush()?;
    Ok(())
}

/// The include directories a build script of `tool` passes: protox (ours) brings its own
/// google/protobuf files, and protoc's bundled ones are newer than protox can parse
/// (`extensions … [declaration = …]` in descriptor.proto), so ours goes without them.
pub fn build_rs_includes(tool: &str, corpus: &Corpus, protoc: &Protoc) -> Vec<PathBuf> {
    corpus
        .includes
        .iter()
        .filter(|include| tool != "greeter" || **include != protoc.include)
        .cloned()
        .collect()
}

/// `greeter-bench build-rs-child …` for `tool` on the files listed, writing into `out`.
pub fn build_rs_command(
    tool: &str,
    includes: &[PathBuf],
    files_list: &Path,
    out: &Path,
) -> io::Result<Command> {
    let mut command = Command::new(std::env::current_exe()?);
    command
        .arg("build-rs-child")
        .arg("--tool")
        .arg(tool)
        .arg("--files-from")
        .arg(files_list)
        .arg("--out")
        .arg(out);
    for include in includes {
        command.arg("--include").arg(include);
    }
    Ok(command)
}

fn output_size(dir: &Path) -> io::Result<(usize, u64)> {
    let mut total = (0, 0);
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            let (files, bytes) = output_size(&entry.path())?;
            total = (total.0 + files, total.1 + bytes);
        } else {
            total = (total.0 + 1, total.1 + entry.metadata()?.len());
        }
    }
    Ok(total)
}

/// Flags of the hidden `greeter-bench build-rs-child` subcommand: what a build script does,
/// in a process of its own so that its peak memory can be measured.
#[derive(clap::Args)]
pub struct BuildRsArgs {
    /// `greeter` (protoc_gen_greeter::configure) or `tonic-prost-build`.
    #[arg(long)]
    tool: String,
    /// A file listing the .proto paths to compile, one a line.
    #[arg(long)]
    files_from: PathBuf,
    /// Include directories.
    #[arg(long = "include")]
    includes: Vec<PathBuf>,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Also write this include file (e.g. `mod.rs`) nesting the package files.
    #[arg(long)]
    include_file: Option<String>,
}

/// `build-rs-child`: compile the listed protos the way a build script of `tool` would.
pub fn build_rs_child(args: BuildRsArgs) -> Result<(), Box<dyn std::error::Error>> {
    let list = std::fs::read_to_string(&args.files_from)?;
    let files: Vec<PathBuf> = list.lines().map(PathBuf::from).collect();
    std::fs::create_dir_all(&args.out)?;
    match args.tool.as_str() {
        "greeter" => {
            let mut builder = protoc_gen_greeter::configure().out_dir(&args.out);
            if let Some(name) = &args.include_file {
                builder = builder.include_file(name);
            }
            builder.compile_protos(&files, &args.includes)?;
        }
        "tonic-prost-build" => {
            let mut builder = tonic_prost_build::configure().out_dir(&args.out);
            if let Some(name) = &args.include_file {
                builder = builder.include_file(name);
            }
            builder.compile_protos(&files, &args.includes)?;
        }
        other => return Err(format!("unknown --tool `{other}`").into()),
    }
    Ok(())
}
