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
    finish(prettyplease::unparse(file), rustfmt)
}

/// What prettyplease made of a file, through rustfmt when `rustfmt` is set.
pub fn finish(pretty: String, rustfmt: bool) -> Result<String, String> {
    if rustfmt {
        run_rustfmt(&pretty)
    } else {
        Ok(pretty)
    }
}

/// prettyplease's layout of `code`, parsed and formatted in [`pieces`]; if a piece does not parse
/// on its own, the whole is parsed at once (and its error returned).
pub fn pretty_in_pieces(code: &str) -> syn::Result<String> {
    let mut pretty = String::with_capacity(code.len() + code.len() / 4);
    for piece in pieces(code) {
        match syn::parse_file(piece) {
            Ok(file) => pretty.push_str(&prettyplease::unparse(&file)),
            Err(_) => return Ok(prettyplease::unparse(&syn::parse_file(code)?)),
        }
    }
    Ok(pretty)
}

/// Code of about this many bytes is parsed and formatted at a time (see [`pieces`]).
const PIECE_BYTES: usize = 256 * 1024;

/// `code` (prost-build's output: top-level items at the start of a line, bodies indented) cut
/// into runs of whole top-level items of about [`PIECE_BYTES`], each ending after a `}` alone on
/// its line, which closes a top-level item. Parsed and formatted one at a time, a package of many
/// megabytes never has its whole syntax tree in memory; prettyplease lays out each top-level item
/// on its own, so the formatted pieces join into what formatting the whole gives.
pub fn pieces(code: &str) -> impl Iterator<Item = &str> {
    let mut rest = code;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut from = PIECE_BYTES.min(rest.len());
        while !rest.is_char_boundary(from) {
            from += 1;
        }
        let end = rest[from..]
            .find("\n}\n")
            .map_or(rest.len(), |at| from + at + 3);
        let piece = &rest[..end];
        rest = &rest[end..];
        Some(piece)
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Code laid out as prost-build writes it: top-level items at the start of a line, nested
    /// ones indented, a comment with a brace in it.
    fn prost_like(items: usize) -> String {
        let mut code = String::new();
        for i in 0..items {
            code.push_str(&format!(
                "/// Message {i}: `{{` and `}}` in a comment.\n\
                 #[derive(Clone, PartialEq, ::prost::Message)]\n\
                 pub struct M{i} {{\n    #[prost(string, tag = \"1\")]\n    pub name_{i}: ::prost::alloc::string::String,\n    #[prost(message, optional, tag = \"2\")]\n    pub inner: ::core::option::Option<m{i}::Inner>,\n}}\n\
                 /// Nested message and enum types in `M{i}`.\n\
                 pub mod m{i} {{\n    #[derive(Clone, Copy, PartialEq, ::prost::Message)]\n    pub struct Inner {{\n        #[prost(int32, tag = \"1\")]\n        pub value: i32,\n    }}\n}}\n"
            ));
        }
        code
    }

    #[test]
    fn pieces_are_whole_items_that_join_into_the_input() {
        let code = prost_like(3_000);
        assert!(code.len() > 3 * PIECE_BYTES);
        let cut: Vec<&str> = pieces(&code).collect();
        assert!(cut.len() >= 3, "{} pieces", cut.len());
        assert_eq!(cut.concat(), code);
        for piece in &cut[..cut.len() - 1] {
            assert!(piece.len() >= PIECE_BYTES);
            assert!(piece.ends_with("\n}\n"));
            syn::parse_file(piece).unwrap();
        }
        assert_eq!(pieces(&code[..100]).collect::<Vec<_>>(), [&code[..100]]);
        assert_eq!(pieces("").count(), 0);
    }

    #[test]
    fn formatted_pieces_join_into_the_whole_formatted() {
        let code = prost_like(3_000);
        let whole = prettyplease::unparse(&syn::parse_file(&code).unwrap());
        assert!(pieces(&code).count() >= 3);
        assert!(
            pretty_in_pieces(&code).unwrap() == whole,
            "piecewise formatting differs"
        );
    }

    #[test]
    fn a_piece_that_does_not_parse_alone_falls_back_to_the_whole() {
        // A string literal whose lines look like the end of an item.
        let mut code = prost_like(1_500);
        code.push_str("pub const TEXT: &str = \"\n}\n");
        code.push_str(&"x\n}\n".repeat(PIECE_BYTES / 2));
        code.push_str("\";\n");
        code.push_str(&prost_like(10));
        assert!(pieces(&code).any(|piece| syn::parse_file(piece).is_err()));
        let whole = prettyplease::unparse(&syn::parse_file(&code).unwrap());
        assert!(pretty_in_pieces(&code).unwrap() == whole);
        assert!(pretty_in_pieces("pub struct {").is_err());
    }

    #[test]
    fn a_cut_never_splits_a_character() {
        // Multi-byte characters around every byte the first cut could start at.
        let mut code = String::new();
        while code.len() < PIECE_BYTES + 64 {
            code.push_str("/// é€😀\n");
        }
        code.push_str("pub struct S {\n    pub a: i32,\n}\npub struct T {}\n");
        let cut: Vec<&str> = pieces(&code).collect();
        assert_eq!(cut.concat(), code);
        assert_eq!(cut.len(), 2);
    }
}
