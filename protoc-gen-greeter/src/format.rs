//! Formatting of generated files.
//!
//! prettyplease gives well-formed, deterministic output with no toolchain at hand, but it wraps
//! lines differently from rustfmt. Users check generated files into repositories that run
//! `cargo fmt --check`, so when a `rustfmt` is available (`$RUSTFMT`, else on `PATH`) its output
//! is used: the file is then exactly what `cargo fmt` would leave. Without one, or if it fails,
//! the prettyplease output stands.

use std::io::Write;
use std::process::{Command, Stdio};

/// Formats one generated file.
pub fn format_file(file: &syn::File) -> String {
    let pretty = prettyplease::unparse(file);
    rustfmt(&pretty).unwrap_or(pretty)
}

fn rustfmt(code: &str) -> Option<String> {
    let program = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let mut child = Command::new(program)
        .args(["--edition", "2021", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    // Write from another thread so a full stdout pipe cannot block the write.
    let input = code.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().ok()?;
    writer.join().ok()?.ok()?;
    let formatted = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !formatted.trim().is_empty()).then_some(formatted)
}
