//! Formatting of generated files.
//!
//! prettyplease gives well-formed, deterministic output with no toolchain at hand, fast enough for
//! googleapis-sized inputs; it is what tonic-prost-build and protoc-gen-prost write. It wraps lines
//! differently from rustfmt, so users who check generated files into a repository that runs
//! `cargo fmt --check` ask for the `rustfmt` option, which pipes each file through `rustfmt`
//! (`$RUSTFMT`, else on `PATH`). rustfmt is not the default because it costs more than the rest of
//! generation together: about 32 s of a 63 s googleapis run (BENCHMARKS.md).

use std::io::Write;
use std::process::{Command, Stdio};

/// Formats one generated file: prettyplease, then rustfmt when `rustfmt` is set. The error says
/// why rustfmt could not format it.
pub fn format_file(file: &syn::File, rustfmt: bool) -> Result<String, String> {
    let pretty = prettyplease::unparse(file);
    if rustfmt {
        run_rustfmt(&pretty)
    } else {
        Ok(pretty)
    }
}

fn run_rustfmt(code: &str) -> Result<String, String> {
    let program = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let mut child = Command::new(&program)
        .args(["--edition", "2021", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `{}`: {e}", program.to_string_lossy()))?;
    let mut stdin = child.stdin.take().ok_or("rustfmt has no stdin")?;
    // Write from another thread so a full stdout pipe cannot block the write.
    let input = code.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child
        .wait_with_output()
        .map_err(|e| format!("rustfmt failed: {e}"))?;
    writer
        .join()
        .map_err(|_| "writing to rustfmt panicked".to_owned())?
        .map_err(|e| format!("cannot write to rustfmt: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "rustfmt exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    String::from_utf8(output.stdout).map_err(|_| "rustfmt wrote invalid UTF-8".to_owned())
}
