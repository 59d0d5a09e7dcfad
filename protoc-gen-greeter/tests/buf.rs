//! `buf generate` with the plugin: the repository's `buf.yaml` and `buf.gen.yaml` write, byte for
//! byte, what protoc writes with the same plugin, options and protos; so does a template over the
//! whole module (three packages, options given as a list).
//!
//! buf is `@bufbuild/buf` from npm, pinned to [`BUF_VERSION`] and installed once into a directory
//! of `CARGO_TARGET_TMPDIR`, then reused. The install goes to a staging directory that is renamed
//! into place only once it works, so concurrent runs never see half an install (the loser of a
//! race throws its copy away). Without node, npm or the npm registry the test fails, saying so.
//!
//! buf runs offline: every request it might make goes to a proxy that refuses connections, so
//! the test shows that the Greeter's import of `greeter/options.proto` resolves inside the
//! module, with no Buf Schema Registry. Every command runs under a time limit and is killed past
//! it.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PLUGIN: &str = env!("CARGO_BIN_EXE_protoc-gen-greeter");

/// The buf release the test installs (npm `@bufbuild/buf`).
const BUF_VERSION: &str = "1.75.0";

/// How long `npm install` may take (a cold npm cache downloads about 15 MB).
const INSTALL_LIMIT: Duration = Duration::from_secs(300);

/// How long one buf or protoc run may take.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// A proxy nothing listens on: any network request buf makes fails at once.
const OFFLINE_PROXY: &str = "http://127.0.0.1:1";

/// The options of the repository's `buf.gen.yaml`, as `--greeter_opt`.
const REPO_TEMPLATE_OPTIONS: &str = "include_file=mod.rs";

/// A template over every file of the module, given to `buf generate --template` inline.
const WHOLE_MODULE_TEMPLATE: &str = r#"{
  "version": "v2",
  "plugins": [{
    "local": "protoc-gen-greeter",
    "out": "whole",
    "opt": ["include_file=mod.rs", "default_stubs"],
    "strategy": "all"
  }],
  "inputs": [{ "directory": "proto" }]
}"#;

/// The options of [`WHOLE_MODULE_TEMPLATE`], as `--greeter_opt`.
const WHOLE_MODULE_OPTIONS: &str = "include_file=mod.rs,default_stubs";

/// Every proto file of the module (`proto/`).
const MODULE_FILES: &[&str] = &[
    "greeter/options.proto",
    "greeter/v1/greeter.proto",
    "grpc/testing/empty.proto",
    "grpc/testing/messages.proto",
    "grpc/testing/test.proto",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the plugin crate sits in the workspace")
        .to_path_buf()
}

#[test]
fn the_repository_template_writes_what_protoc_writes() {
    let buf_out = TempDir::new("buf-out");
    let output = run(
        buf_generate(buf_out.path()),
        RUN_LIMIT,
        "buf generate (buf.yaml, buf.gen.yaml)",
    );
    assert_success(&output, "buf generate");
    let by_buf = read_tree(&buf_out.path().join("gen"));
    assert_eq!(
        by_buf.keys().collect::<Vec<_>>(),
        ["greeter.v1.rs", "mod.rs"],
        "buf.gen.yaml writes the Greeter's package and the include file"
    );

    let protoc_out = TempDir::new("protoc-out");
    let output = run(
        protoc(
            protoc_out.path(),
            REPO_TEMPLATE_OPTIONS,
            &["greeter/v1/greeter.proto"],
        ),
        RUN_LIMIT,
        "protoc",
    );
    assert_success(&output, "protoc");
    assert_same_files(&by_buf, &read_tree(protoc_out.path()));
}

#[test]
fn a_template_over_the_whole_module_writes_what_protoc_writes() {
    let buf_out = TempDir::new("buf-out");
    let mut command = buf_generate(buf_out.path());
    command.arg("--template").arg(WHOLE_MODULE_TEMPLATE);
    let output = run(command, RUN_LIMIT, "buf generate (whole module)");
    assert_success(&output, "buf generate");
    let by_buf = read_tree(&buf_out.path().join("whole"));
    assert_eq!(
        by_buf.keys().collect::<Vec<_>>(),
        ["greeter.rs", "greeter.v1.rs", "grpc.testing.rs", "mod.rs"],
        "one file per package, and the include file"
    );

    let protoc_out = TempDir::new("protoc-out");
    let output = run(
        protoc(protoc_out.path(), WHOLE_MODULE_OPTIONS, MODULE_FILES),
        RUN_LIMIT,
        "protoc",
    );
    assert_success(&output, "protoc");
    assert_same_files(&by_buf, &read_tree(protoc_out.path()));
}

/// `buf generate --output OUT` in the workspace (its `buf.yaml` and, unless the caller adds
/// `--template`, its `buf.gen.yaml`), with the plugin under test first on PATH, a private
/// cache, and no network.
fn buf_generate(out: &Path) -> Command {
    let plugin_dir = Path::new(PLUGIN)
        .parent()
        .expect("the plugin binary is in a directory");
    let path = std::env::join_paths(std::iter::once(plugin_dir.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("PATH entries without separators");
    let mut command = Command::new(buf());
    command
        .arg("generate")
        .arg("--output")
        .arg(out)
        .current_dir(workspace())
        .env("PATH", path)
        .env("BUF_CACHE_DIR", out.join(".buf-cache"));
    for proxy in ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"] {
        command.env(proxy, OFFLINE_PROXY);
    }
    for exempt in ["NO_PROXY", "no_proxy", "BUF_TOKEN"] {
        command.env_remove(exempt);
    }
    command
}

/// The vendored protoc with the plugin under test, as the README's protoc example runs it.
fn protoc(out: &Path, options: &str, files: &[&str]) -> Command {
    let mut command =
        Command::new(protoc_bin_vendored::protoc_bin_path().expect("vendored protoc"));
    command
        .arg(format!("--plugin=protoc-gen-greeter={PLUGIN}"))
        .arg(format!("--greeter_out={}", out.display()))
        .arg(format!("--greeter_opt={options}"))
        .arg("-I")
        .arg(workspace().join("proto"))
        .arg("-I")
        .arg(protoc_bin_vendored::include_path().expect("vendored protoc includes"))
        .args(files);
    command
}

/// buf, installed once per target dir (and once per test process).
fn buf() -> &'static Path {
    static BUF: OnceLock<PathBuf> = OnceLock::new();
    BUF.get_or_init(install_buf)
}

fn install_buf() -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let installed = root.join(format!("buf-{BUF_VERSION}"));
    if let Some(buf) = working_buf(&installed) {
        return buf;
    }
    if installed.exists() {
        // Only a checked install is ever renamed into place, so this one was damaged since:
        // set it aside (a concurrent reader keeps its files) and install again.
        let aside = root.join(format!("buf-{BUF_VERSION}.damaged-{}", unique()));
        if std::fs::rename(&installed, &aside).is_ok() {
            let _ = std::fs::remove_dir_all(&aside);
        }
    }

    // Removed on the way out unless renamed into place (a panic included).
    let staging = TempDir::new(&format!("buf-{BUF_VERSION}.staging"));
    let npm = std::env::var_os("NPM").unwrap_or_else(|| OsString::from("npm"));
    let mut command = Command::new(&npm);
    command
        .arg("install")
        .arg("--prefix")
        .arg(staging.path())
        // Only buf's files: no package.json or lock file of ours, no audit, no install
        // scripts (buf's only optimises its launcher, which this test does not use).
        .args(["--no-save", "--no-package-lock", "--no-audit", "--no-fund"])
        .arg("--ignore-scripts")
        .arg(format!("@bufbuild/buf@{BUF_VERSION}"))
        .env("npm_config_update_notifier", "false");
    let output = run(
        command,
        INSTALL_LIMIT,
        &format!("npm install @bufbuild/buf@{BUF_VERSION} (this test needs node and npm)"),
    );
    assert!(
        output.status.success(),
        "npm could not install @bufbuild/buf@{BUF_VERSION} ({}); this test needs node, npm and \
         the npm registry\n--- npm's stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(
        working_buf(staging.path()).is_some(),
        "npm installed @bufbuild/buf@{BUF_VERSION} but no working buf {BUF_VERSION} binary for \
         this platform is in it (node_modules/@bufbuild: {:?})",
        read_tree_names(&staging.path().join("node_modules/@bufbuild")),
    );
    // Atomic: concurrent runs see no install or a whole one. When another run renamed its
    // own first, this one fails and ours is dropped.
    if let Err(error) = std::fs::rename(staging.path(), &installed) {
        assert!(
            working_buf(&installed).is_some(),
            "cannot move buf's install into {}: {error}",
            installed.display()
        );
    }
    working_buf(&installed).unwrap_or_else(|| {
        panic!(
            "buf {BUF_VERSION} was installed into {} but does not run",
            installed.display()
        )
    })
}

/// The platform's buf binary in the npm prefix `dir`, if it runs and is [`BUF_VERSION`].
///
/// That is the binary of the `@bufbuild/buf-<platform>` package npm picked, not the
/// `node_modules/.bin/buf` launcher: the launcher is a node script that starts the binary as
/// its child, which a time limit's kill would leave running.
fn working_buf(dir: &Path) -> Option<PathBuf> {
    let scope = dir.join("node_modules/@bufbuild");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&scope).ok()? {
        let package = entry.ok()?.path();
        let is_platform_package = package
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with("buf-"));
        for binary in ["bin/buf", "bin/buf.exe"] {
            if is_platform_package && package.join(binary).is_file() {
                found.push(package.join(binary));
            }
        }
    }
    let [binary] = found.as_slice() else {
        return None;
    };
    let mut version = Command::new(binary);
    version.arg("--version");
    let output = run(version, RUN_LIMIT, "buf --version");
    let reported = String::from_utf8_lossy(&output.stdout);
    (output.status.success() && reported.trim() == BUF_VERSION).then(|| binary.clone())
}

fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({})\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

/// Every file under `dir` (recursively), by its path relative to `dir`, with its bytes.
fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
        let entries = std::fs::read_dir(dir)
            .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let relative = path.strip_prefix(root).expect("under the root");
                let bytes = std::fs::read(&path)
                    .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
                files.insert(relative.to_string_lossy().into_owned(), bytes);
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    files
}

fn read_tree_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn assert_same_files(by_buf: &BTreeMap<String, Vec<u8>>, by_protoc: &BTreeMap<String, Vec<u8>>) {
    assert_eq!(
        by_buf.keys().collect::<Vec<_>>(),
        by_protoc.keys().collect::<Vec<_>>(),
        "buf and protoc write different files"
    );
    for (name, bytes) in by_buf {
        let theirs = &by_protoc[name];
        if bytes != theirs {
            let (buf_text, protoc_text) = (
                String::from_utf8_lossy(bytes),
                String::from_utf8_lossy(theirs),
            );
            let line = buf_text
                .lines()
                .zip(protoc_text.lines())
                .position(|(a, b)| a != b)
                .map_or_else(
                    || "one is a prefix of the other".to_owned(),
                    |index| format!("first difference on line {}", index + 1),
                );
            panic!(
                "{name} differs between buf ({} bytes) and protoc ({} bytes): {line}",
                bytes.len(),
                theirs.len()
            );
        }
    }
}

/// A name no other test, run or process uses at the same time.
fn unique() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh directory under `CARGO_TARGET_TMPDIR`, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> Self {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{what}-{}", unique()));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", path.display()));
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child killed when the test lets go of it early (a panic included).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads a pipe to its end on a thread; the bytes arrive on the returned channel.
fn drain(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = sender.send(bytes);
    });
    receiver
}

/// Runs `command` to its end with its output captured; past `limit` it is killed and the test
/// fails with what it printed so far.
fn run(mut command: Command, limit: Duration, what: &str) -> Output {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = KillOnDrop(command.spawn().unwrap_or_else(|error| {
        panic!(
            "{what}: cannot run {:?}: {error}",
            command.get_program().to_string_lossy()
        )
    }));
    let stdout = drain(child.0.stdout.take().expect("piped stdout"));
    let stderr = drain(child.0.stderr.take().expect("piped stderr"));
    let started = Instant::now();
    // A descendant may hold a pipe open after the child is gone: wait a little, not forever.
    let collect = |pipe: mpsc::Receiver<Vec<u8>>| {
        pipe.recv_timeout(Duration::from_secs(5))
            .unwrap_or_default()
    };
    loop {
        if let Some(status) = child.0.try_wait().expect("the child's status") {
            return Output {
                status,
                stdout: collect(stdout),
                stderr: collect(stderr),
            };
        }
        if started.elapsed() > limit {
            let _ = child.0.kill();
            let status = child.0.wait().expect("the child's status");
            panic!(
                "{what}: {command:?} did not finish within {limit:?}: killed ({status})\n\
                 --- stdout\n{}\n--- stderr\n{}",
                String::from_utf8_lossy(&collect(stdout)),
                String::from_utf8_lossy(&collect(stderr)),
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
