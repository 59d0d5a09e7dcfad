//! The library as a real build script sees it: a small crate whose `build.rs` calls
//! `protoc_gen_greeter::configure().compile_protos(..)`, built by cargo itself.
//!
//! - Every input proto, the imported ones too, is a `cargo:rerun-if-changed`: cargo reruns the
//!   script when any of them changes, and only then.
//! - `PROTOC`, when set, is the compiler used (a wrapper that logs its calls proves it ran), its
//!   output is byte-identical to the built-in compiler's, and changing `PROTOC` reruns the script.
//! - A `PROTOC` that cannot run fails the build with an error naming it.
//!
//! The probe crate has its own target directory under cargo's test tmpdir, kept between runs
//! (the first build compiles the library's dependencies once more, about a minute here).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PROBE: &str = "build-script-probe";

const BUILD_RS: &str = r#"fn main() -> Result<(), Box<dyn std::error::Error>> {
    protoc_gen_greeter::configure().compile_protos(&["proto/probe/v1/probe.proto"], &["proto"])?;
    Ok(())
}
"#;

const PROBE_PROTO: &str = r#"syntax = "proto3";
package probe.v1;

import "probe/v1/common.proto";

service Probe {
  rpc Check(Ping) returns (Pong);
}
"#;

const COMMON_PROTO: &str = r#"syntax = "proto3";
package probe.v1;

message Ping { string text = 1; }
message Pong { string text = 1; }
"#;

struct Probe {
    dir: PathBuf,
    target: PathBuf,
}

impl Probe {
    /// Writes the probe crate afresh (its target directory is kept, so dependencies are built
    /// once per machine).
    fn new() -> Self {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let dir = tmp.join(PROBE);
        let _ = std::fs::remove_dir_all(&dir);
        let library = Path::new(env!("CARGO_MANIFEST_DIR"));
        let workspace = library.parent().unwrap();
        write(
            &dir.join("Cargo.toml"),
            &format!(
                "[package]\nname = \"{PROBE}\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
                 publish = false\n\n[build-dependencies]\nprotoc-gen-greeter = {{ path = {:?} }}\n\n\
                 [workspace]\n\n[profile.dev]\ndebug = false\n",
                library.display().to_string()
            ),
        );
        // The workspace's lock file: the same dependency versions, nothing to resolve or fetch.
        std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        write(&dir.join("build.rs"), BUILD_RS);
        write(&dir.join("src/lib.rs"), "");
        write(&dir.join("proto/probe/v1/probe.proto"), PROBE_PROTO);
        write(&dir.join("proto/probe/v1/common.proto"), COMMON_PROTO);
        Self {
            dir,
            target: tmp.join("build-script-probe-target"),
        }
    }

    /// `cargo build -v` of the probe with `protoc` as `PROTOC` (unset when `None`).
    fn build(&self, protoc: Option<&Path>) -> Output {
        let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        command
            .current_dir(&self.dir)
            .args(["build", "-v", "--offline"])
            .env("CARGO_TARGET_DIR", &self.target)
            .env_remove("PROTOC")
            .env_remove("RUSTFLAGS");
        if let Some(protoc) = protoc {
            command.env("PROTOC", protoc);
        }
        command.output().expect("run cargo")
    }

    /// Builds and requires success; returns whether the build script ran.
    fn build_ok(&self, protoc: Option<&Path>) -> bool {
        let output = self.build(protoc);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "probe build failed:\n{stderr}");
        stderr
            .lines()
            .any(|line| line.contains("Running") && line.contains("build-script-build"))
    }

    /// The build script's `OUT_DIR` and the `cargo:` lines it printed, from its last run.
    fn last_run(&self) -> (PathBuf, String) {
        let build = self.target.join("debug").join("build");
        let mut runs: Vec<PathBuf> = std::fs::read_dir(&build)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| {
                let name = path.file_name().unwrap().to_string_lossy();
                name.starts_with(&format!("{PROBE}-")) && path.join("output").is_file()
            })
            .collect();
        runs.sort_by_key(|path| path.join("output").metadata().unwrap().modified().unwrap());
        let run = runs.pop().expect("a build script run");
        let output = std::fs::read_to_string(run.join("output")).unwrap();
        (run.join("out"), output)
    }

    fn generated(&self) -> String {
        let (out, _) = self.last_run();
        std::fs::read_to_string(out.join("probe.v1.rs")).expect("the generated probe.v1.rs")
    }

    fn proto(&self, name: &str) -> PathBuf {
        self.dir.join("proto/probe/v1").join(name)
    }
}

fn write(path: &Path, content: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// Changes `path`'s content (not only its time), as an edit would.
fn edit(path: &Path, comment: &str) {
    let mut content = std::fs::read_to_string(path).unwrap();
    content.push_str(&format!("// {comment}\n"));
    // Cargo compares modification times with the previous run's: make sure it moves.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(path, content).unwrap();
}

/// A `protoc` that logs each call into `log`, then runs the vendored protoc with the same
/// arguments.
fn logging_protoc(dir: &Path, log: &Path) -> PathBuf {
    let protoc = protoc_bin_vendored::protoc_bin_path().expect("vendored protoc");
    let wrapper = dir.join("logging-protoc");
    write(
        &wrapper,
        &format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            protoc.display()
        ),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    wrapper
}

#[test]
fn build_script_reruns_for_every_input_proto_and_uses_protoc_when_set() {
    let probe = Probe::new();

    // Built-in compiler (no PROTOC): every input proto, the imported one too, is watched.
    assert!(
        probe.build_ok(None),
        "the first build runs the build script"
    );
    let (_, output) = probe.last_run();
    for proto in ["probe.proto", "common.proto"] {
        let line = format!("cargo:rerun-if-changed=proto/probe/v1/{proto}");
        assert!(
            output.lines().any(|l| l == line),
            "no `{line}` in the build script's output:\n{output}"
        );
    }
    assert!(
        output
            .lines()
            .any(|l| l == "cargo:rerun-if-env-changed=PROTOC"),
        "PROTOC not watched:\n{output}"
    );
    let by_protox = probe.generated();
    assert!(by_protox.contains("Probe"), "{by_protox}");

    // Nothing changed: the script does not run again.
    assert!(
        !probe.build_ok(None),
        "the build script reran with no change"
    );

    // Editing the imported file (or the named one) reruns it.
    edit(&probe.proto("common.proto"), "an imported file changed");
    assert!(probe.build_ok(None), "no rerun after common.proto changed");
    edit(&probe.proto("probe.proto"), "the named file changed");
    assert!(probe.build_ok(None), "no rerun after probe.proto changed");
    assert!(
        !probe.build_ok(None),
        "the build script reran with no change"
    );

    // PROTOC set: the script reruns (the variable changed) and runs that protoc, whose output
    // is the built-in compiler's byte for byte.
    let log = probe.dir.join("protoc.log");
    let protoc = logging_protoc(&probe.dir, &log);
    assert!(
        probe.build_ok(Some(&protoc)),
        "no rerun after PROTOC was set"
    );
    let calls = std::fs::read_to_string(&log).expect("PROTOC was not run");
    assert_eq!(calls.lines().count(), 1, "{calls}");
    assert!(calls.contains("probe/v1/probe.proto"), "{calls}");
    assert_eq!(probe.generated(), by_protox);

    // A PROTOC that cannot run is an error naming it.
    let missing = probe.dir.join("no-such-protoc");
    let output = probe.build(Some(&missing));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "built with a missing protoc");
    assert!(
        stderr.contains(&format!("cannot run protoc at {}", missing.display())),
        "{stderr}"
    );
}
