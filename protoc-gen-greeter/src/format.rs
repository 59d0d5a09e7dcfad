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

/// prettyplease's layout of `code`, prost-build's output for one package.
///
/// prost-build writes its items one attribute, field or variant per line, indented four spaces per
/// level: already prettyplease's layout, but for a few things syn does not keep (plain comments,
/// blank lines, trailing spaces in doc comments), empty bodies (`{` and `}` on two lines, which
/// prettyplease joins) and lines too long for prettyplease's margin (which it breaks). So a
/// top-level item whose every line is one of those cases is written from its lines
/// ([`lay_out_as_written`]); parsing and formatting it would give the same text at about 15 times
/// the cost (on googleapis, 4.3 of the plugin's 11.6 CPU seconds). Every other item is parsed and
/// formatted, with the items around it, in runs of about [`PIECE_BYTES`]. `as_written` false
/// formats every item (for attributes written by users, whose spacing is their own). If a run does
/// not parse on its own, the whole is parsed at once (and its error returned). Items written from
/// their lines are not parsed: their syntax is prost-build's, checked only for brackets that
/// close; byte-identical output on googleapis is checked by hand (BENCHMARKS.md), on the
/// well-known types by a test.
pub fn pretty_messages(code: &str, as_written: bool) -> syn::Result<String> {
    let mut pretty = String::with_capacity(code.len() + code.len() / 4);
    let mut written = String::new();
    // The run of items waiting to be formatted, as a range of `code`.
    let mut run = 0..0;
    for item in top_level_items(code) {
        let start = item.as_ptr() as usize - code.as_ptr() as usize;
        written.clear();
        if as_written && lay_out_as_written(item, &mut written) {
            if !format_run(code, &mut run, &mut pretty) {
                return Ok(prettyplease::unparse(&syn::parse_file(code)?));
            }
            pretty.push_str(&written);
            run = start + item.len()..start + item.len();
        } else {
            run.end = start + item.len();
            if run.len() >= PIECE_BYTES && !format_run(code, &mut run, &mut pretty) {
                return Ok(prettyplease::unparse(&syn::parse_file(code)?));
            }
        }
    }
    if !format_run(code, &mut run, &mut pretty) {
        return Ok(prettyplease::unparse(&syn::parse_file(code)?));
    }
    Ok(pretty)
}

/// Formats the items of `code[run]` onto `pretty` and empties the run; false when they do not
/// parse on their own.
fn format_run(code: &str, run: &mut std::ops::Range<usize>, pretty: &mut String) -> bool {
    if run.start == run.end {
        return true;
    }
    let Ok(file) = syn::parse_file(&code[run.clone()]) else {
        return false;
    };
    pretty.push_str(&prettyplease::unparse(&file));
    *run = run.end..run.end;
    true
}

/// Whether `path` is spelled as prettyplease prints a path: names joined by `::`, perhaps after a
/// leading `::`, with no spaces and no generic arguments. prost-build writes extern paths as given,
/// so items are written as laid out only while every extern path is spelled so.
pub(crate) fn plain_path(path: &str) -> bool {
    path.strip_prefix("::")
        .unwrap_or(path)
        .split("::")
        .all(|segment| {
            let name = segment.strip_prefix("r#").unwrap_or(segment);
            name.starts_with(|c: char| c == '_' || c.is_alphabetic())
                && name.chars().all(|c| c == '_' || c.is_alphanumeric())
        })
}

/// Code of about this many bytes is parsed and formatted at a time (see [`pretty_messages`]).
const PIECE_BYTES: usize = 256 * 1024;

/// Lines no longer than this (indentation included) are never broken by prettyplease: it breaks a
/// group when it does not fit in what is left of its margin of 89 columns.
pub(crate) const MARGIN: usize = 89;

/// The fewest columns prettyplease gives the text of a line however deep it is indented.
const MIN_SPACE: usize = 60;

/// Whether text of `len` bytes fits on a line indented by `indent`, as prettyplease counts: in
/// what is left of the margin, but never in fewer than [`MIN_SPACE`] columns.
pub(crate) fn fits(indent: usize, len: usize) -> bool {
    len <= MARGIN.saturating_sub(indent).max(MIN_SPACE)
}

/// `code` (prost-build's output: top-level items at the start of a line, bodies indented) cut
/// after each `}` alone on its line, which closes a top-level item. prettyplease lays out each
/// top-level item on its own, so items formatted apart join into what formatting the whole gives.
fn top_level_items(code: &str) -> impl Iterator<Item = &str> {
    let mut rest = code;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = if rest.starts_with("}\n") {
            2
        } else {
            rest.find("\n}\n").map_or(rest.len(), |at| at + 3)
        };
        let item = &rest[..end];
        rest = &rest[end..];
        Some(item)
    })
}

/// Writes `item` onto `out` in prettyplease's layout if its lines show that layout already, and
/// says whether it did (`out` may hold part of the item when it did not). A line is either
///
/// - blank, or a plain `//` comment: syn does not keep them, so neither does prettyplease;
/// - a `///` doc comment, written without its trailing spaces, as prettyplease prints doc
///   attributes (`////` and a carriage return are left to the parser, which rejects or rewrites
///   them);
/// - code that [`fits`] at its indentation, with no comment and no string left open at its end; a
///   line ending in `{` followed by its `}` becomes one line ending in `{}`, as prettyplease
///   writes an empty body; a longer line is broken where prettyplease breaks it if it has one of
///   the shapes [`break_line`] knows.
fn lay_out_as_written(item: &str, out: &mut String) -> bool {
    let mut lines = item.lines().peekable();
    // Brackets open across the lines of code: an item that does not close them all (a cut in
    // the wrong place, or code that is not Rust) is left to the parser.
    let mut depth = 0;
    while let Some(line) = lines.next() {
        let text = line.trim_start_matches(' ');
        let indent = line.len() - text.len();
        if text.is_empty() {
            continue;
        }
        if let Some(doc) = text.strip_prefix("///") {
            if doc.starts_with('/') || doc.contains('\r') {
                return false;
            }
            out.push_str(&line[..indent + 3]);
            out.push_str(doc.trim_end_matches(' '));
            out.push('\n');
            continue;
        }
        if let Some(comment) = text.strip_prefix("//") {
            if comment.starts_with('!') {
                return false;
            }
            continue;
        }
        // prettyplease indents four spaces a level, and so does prost-build.
        let closing = text.starts_with(['}', ')', ']']);
        if i32::try_from(indent).ok() != Some(4 * (depth - i32::from(closing)))
            || !plain_code(text, &mut depth)
        {
            return false;
        }
        if !fits(indent, text.len()) {
            if !break_line(&line[..indent], text, out) {
                return false;
            }
            continue;
        }
        out.push_str(line);
        let empty_body = text.ends_with('{')
            && lines.peek().is_some_and(|next| {
                next.len() == indent + 1 && next.ends_with('}') && next.starts_with(&line[..indent])
            });
        if empty_body {
            lines.next();
            depth -= 1;
            out.push('}');
        }
        out.push('\n');
    }
    depth == 0
}

/// Writes a line of code too long for the margin as prettyplease breaks it, if it is one of the
/// shapes of prost-build's long lines (the outermost group breaks; what is inside it must then
/// fit on its own lines), and says whether it was:
///
/// - an attribute `#[prost(a, b = "…")]`: `#[prost(`, each argument on its own line, the last
///   without a comma, `)]`;
/// - a match arm `pattern => value,`: `pattern => {`, the value, `}` (unless it fits without
///   its comma);
/// - a field or variant whose type has generic arguments, `pub f: Path<A, B>,`: `pub f: Path<`,
///   each argument followed by a comma, `>,`;
/// - a tuple variant `Name(Type),`: `Name(`, `Type,`, `),`.
fn break_line(indent: &str, text: &str, out: &mut String) -> bool {
    let inner = format!("{indent}    ");
    let fits_inside = |line: &str| fits(inner.len(), line.len());
    if let Some(attribute) = text.strip_prefix("#[").and_then(|t| t.strip_suffix(")]")) {
        let Some((path, arguments)) = attribute.split_once('(') else {
            return false;
        };
        let arguments = split_top_level(arguments);
        // Only words joined by `=` and `::`: no other place for prettyplease to break.
        if path.contains([' ', '<']) || !arguments.iter().all(|a| simple_argument(a)) {
            return false;
        }
        out.push_str(&format!("{indent}#[{path}(\n"));
        for (i, argument) in arguments.iter().enumerate() {
            let comma = if i + 1 < arguments.len() { "," } else { "" };
            out.push_str(&format!("{inner}{argument}{comma}\n"));
        }
        out.push_str(&format!("{indent})]\n"));
        return true;
    }
    if let Some((pattern, value)) = outside_strings(text, " => ") {
        let Some(value) = value.strip_suffix(',') else {
            return false;
        };
        // The comma after the value is written only when the arm stays whole, and is not
        // counted in whether it fits.
        if fits(indent.len(), text.len() - 1) {
            out.push_str(&format!("{indent}{text}\n"));
            return true;
        }
        if !(fits_inside(value) || value.starts_with('"')) || value.contains('#') {
            return false;
        }
        out.push_str(&format!(
            "{indent}{pattern} => {{\n{inner}{value}\n{indent}}}\n"
        ));
        return true;
    }
    if let Some(field) = text.strip_suffix(">,") {
        let Some((head, arguments)) = field.split_once('<') else {
            return false;
        };
        let head = format!("{indent}{head}<");
        let arguments = split_top_level(arguments);
        if !fits(indent.len(), head.len() - indent.len())
            || !arguments.iter().all(|a| fits_inside(&format!("{a},")))
        {
            return false;
        }
        out.push_str(&head);
        out.push('\n');
        for argument in arguments {
            out.push_str(&format!("{inner}{argument},\n"));
        }
        out.push_str(&format!("{indent}>,\n"));
        return true;
    }
    if let Some(variant) = text.strip_suffix("),") {
        let Some((name, ty)) = variant.split_once('(') else {
            return false;
        };
        if name.contains([' ', '<', ':']) || !fits_inside(&format!("{ty},")) {
            return false;
        }
        out.push_str(&format!("{indent}{name}(\n{inner}{ty},\n{indent}),\n"));
        return true;
    }
    false
}

/// `text` split at its commas outside strings and brackets, each part trimmed.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut start) = (0, false, false, 0);
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '<' | '(' | '[' if !in_string => depth += 1,
            '>' | ')' | ']' if !in_string => depth -= 1,
            ',' if !in_string && depth == 0 => {
                parts.push(text[start..at].trim());
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts
}

/// Whether an attribute argument is words and strings joined by ` = ` and `::`, with nothing
/// else for prettyplease to break at.
fn simple_argument(argument: &str) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    let mut spaces = 0;
    for c in argument.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            ' ' if !in_string => spaces += 1,
            '(' | '[' | '{' | '<' | ',' if !in_string => return false,
            _ => {}
        }
    }
    !argument.is_empty()
        && (spaces == 0 || (spaces == 2 && outside_strings(argument, " = ").is_some()))
}

/// `text` split around the first `separator` outside strings.
fn outside_strings<'a>(text: &'a str, separator: &str) -> Option<(&'a str, &'a str)> {
    let mut in_string = false;
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            _ if !in_string && text[at..].starts_with(separator) => {
                return Some((&text[..at], &text[at + separator.len()..]));
            }
            _ => {}
        }
    }
    None
}

/// Whether a line of code holds no comment, no tab, closes every string it opens and no bracket
/// it did not open (`depth` counts the brackets left open), and has a name wherever prost-build
/// writes one: a name that comes out empty (a proto name of underscores alone) leaves two spaces
/// (`pub struct  {`), a space before a colon (`pub : i32`), `::` before something that is not a
/// name (`Self:: =>`) or a line that starts with `=`, `,`, `:` or `(` (a variant `= 0,`). Such
/// a line is left to the parser, which reports that the code does not parse.
fn plain_code(text: &str, depth: &mut i32) -> bool {
    if text.starts_with(['=', ',', ':', '(']) {
        return false;
    }
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    let mut previous = ' ';
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        match c {
            '"' => in_string = !in_string,
            '\\' if in_string => {
                chars.next();
            }
            _ if in_string => {}
            '/' if matches!(next, Some('/' | '*')) => return false,
            '\t' | '\r' => return false,
            ' ' if next == Some(' ') => return false,
            ':' if previous == ' ' && next != Some(':') => return false,
            ':' if previous == ':'
                && !next.is_some_and(|n| n == '<' || n == '_' || n.is_alphabetic()) =>
            {
                return false;
            }
            '{' | '(' | '[' => *depth += 1,
            '}' | ')' | ']' => {
                *depth -= 1;
                if *depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
        previous = c;
    }
    !in_string
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

    fn prettyplease(code: &str) -> String {
        prettyplease::unparse(&syn::parse_file(code).unwrap())
    }

    #[test]
    fn items_are_whole_top_level_items_that_join_into_the_input() {
        let code = prost_like(3);
        let items: Vec<&str> = top_level_items(&code).collect();
        assert_eq!(items.len(), 6);
        assert_eq!(items.concat(), code);
        for item in &items {
            assert!(item.ends_with("\n}\n"));
            syn::parse_file(item).unwrap();
        }
        assert_eq!(
            top_level_items("}\n}\nx").collect::<Vec<_>>(),
            ["}\n", "}\n", "x"]
        );
        assert_eq!(top_level_items("").count(), 0);
    }

    #[test]
    fn items_written_as_laid_out_are_what_prettyplease_makes_of_them() {
        let code = prost_like(3_000);
        assert!(code.len() > 3 * PIECE_BYTES);
        let mut out = String::new();
        assert!(top_level_items(&code).all(|item| lay_out_as_written(item, &mut out)));
        let whole = prettyplease(&code);
        assert!(out == whole, "written as laid out:\n{out}");
        assert!(pretty_messages(&code, true).unwrap() == whole);
        assert!(
            pretty_messages(&code, false).unwrap() == whole,
            "formatted in runs"
        );
    }

    /// Each rule of [`lay_out_as_written`] on its own, beside items it must leave to prettyplease;
    /// whichever way an item goes, the file is what prettyplease makes of it.
    #[test]
    fn every_item_is_laid_out_as_prettyplease_lays_it_out() {
        let long_type = format!("super::{}::Inner", "very_long_module_name".repeat(3));
        let cases: &[(&str, bool)] = &[
            // Blank lines, plain comments and trailing spaces in doc comments go.
            (
                "// services are generated elsewhere\n\n/// Doc.   \n///  \n///\npub struct A {\n    /// Field.  \n    pub a: i32,\n}\n",
                true,
            ),
            // Detached comments with a blank line after them, as prost-build writes them.
            (
                "// Detached.\n//\n\n/// Leading.\npub struct B {\n    pub b: i32,\n}\n",
                true,
            ),
            // An empty body on two lines is one line.
            (
                "#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]\npub struct Empty {\n}\n",
                true,
            ),
            ("pub mod m {\n    pub struct Empty {\n    }\n}\n", true),
            // The widest line prettyplease keeps whole, and one column more, which it breaks
            // inside the outermost generic arguments.
            (
                &format!(
                    "pub struct C {{\n    pub c: {}<u8>,\n}}\n",
                    "X".repeat(MARGIN - 16)
                ),
                true,
            ),
            (
                &format!(
                    "pub struct C2 {{\n    pub c: {}<u8>,\n}}\n",
                    "X".repeat(MARGIN - 15)
                ),
                true,
            ),
            (
                &format!(
                    "pub struct D {{\n    pub d: ::core::option::Option<{long_type}>,\n    pub m: ::std::collections::HashMap<::prost::alloc::string::String, {long_type}>,\n}}\n"
                ),
                true,
            ),
            // Nested generic arguments that still do not fit once the outer ones are broken, a
            // long type with no generic arguments: left to prettyplease.
            (
                &format!(
                    "pub struct D3 {{\n    pub d: ::core::option::Option<::prost::alloc::boxed::Box<{long_type}{long_type}>>,\n}}\n"
                ),
                false,
            ),
            (
                &format!("pub struct D4 {{\n    pub d: {long_type}{long_type},\n}}\n"),
                false,
            ),
            // Long attributes: one argument per line; with a group inside, left to prettyplease.
            (
                "pub mod m {\n    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::prost::Enumeration)]\n    #[repr(i32)]\n    pub enum E {\n        A = 0,\n    }\n}\n",
                true,
            ),
            (
                "pub struct F2 {\n    #[prost(enumeration = \"super::super::some_long_module::SomeLongEnumeration\", repeated, packed = \"false\", tag = \"1\")]\n    pub f: ::prost::alloc::vec::Vec<i32>,\n}\n",
                true,
            ),
            (
                "pub struct F3 {\n    #[serde(rename = \"a_very_long_name_for_a_field\", skip_serializing_if(\"Option::is_none\"))]\n    pub f: i32,\n}\n",
                false,
            ),
            // Match arms: whole while they fit without their comma, else the value in a block;
            // an attribute in the value is left to prettyplease.
            (
                &format!(
                    "impl E {{\n    pub fn f(&self) -> &'static str {{\n        match self {{\n            Self::A => \"{}\",\n            Self::B => \"{}\",\n            Self::C => \"C\",\n        }}\n    }}\n}}\n",
                    "A".repeat(MARGIN - 12 - 14 - 3),
                    "B".repeat(MARGIN - 12 - 14 - 2),
                ),
                true,
            ),
            (
                "impl E {\n    pub fn f(value: &str) -> ::core::option::Option<Self> {\n        match value {\n            \"SOME_VERY_LONG_ENUMERATION_VALUE_NAME_GOES_HERE\" => Some(Self::SomeVeryLongValue),\n            _ => None,\n        }\n    }\n}\n",
                true,
            ),
            (
                "impl E {\n    pub fn f(value: &str) -> ::core::option::Option<Self> {\n        match value {\n            \"SOME_VERY_LONG_ENUMERATION_VALUE_NAME\" => Some(#[allow(deprecated)] Self::SomeVeryLong),\n            _ => None,\n        }\n    }\n}\n",
                false,
            ),
            // A tuple variant: the type on a line of its own.
            (
                &format!(
                    "pub enum V {{\n    #[prost(message, tag = \"1\")]\n    SomeRatherLongVariantName({long_type}),\n}}\n"
                ),
                true,
            ),
            // Indented otherwise than four spaces a level: left to prettyplease.
            (
                &format!(
                    "pub mod a {{\n{0}pub mod b {{\n{0}{0}pub mod c {{\n{0}{0}{0}pub struct E {{\n{0}{0}{0}{0}pub e: i32,\n{0}{0}{0}}}\n{0}{0}}}\n{0}}}\n}}\n",
                    "        "
                ),
                false,
            ),
            ("pub struct E {\n  pub e: i32,\n}\n", false),
            ("pub struct E {\n    pub e: i32,\n  }\n", false),
            // Strings with escapes, brackets and slashes in them, as in default values.
            (
                "pub struct F {\n    #[prost(string, optional, tag = \"1\", default = \"a\\\"}//{\")]\n    pub f: ::core::option::Option<::prost::alloc::string::String>,\n}\n",
                true,
            ),
            // A comment after code, a tab, a doc comment of four slashes: the parser decides.
            ("pub struct G {\n    pub g: i32, // trailing\n}\n", false),
            ("pub struct H {\n\tpub h: i32,\n}\n", false),
            (
                "//// Four slashes.\npub struct I {\n    pub i: i32,\n}\n",
                false,
            ),
            // Names prost-build made empty (from proto names of underscores alone): the parser
            // rejects them.
            ("pub struct  {\n    pub a: i32,\n}\n", false),
            ("pub struct A {\n    pub : i32,\n}\n", false),
            ("pub enum E {\n     = 0,\n}\n", false),
            (
                "impl E {\n    pub fn f(&self) -> &'static str {\n        match self {\n            Self:: => \"__\",\n        }\n    }\n}\n",
                false,
            ),
            ("pub enum O {\n    (i32),\n}\n", false),
            // Brackets that do not close, or close what the item did not open.
            ("pub struct J {\n    pub j: Vec<(i32>,\n}\n", false),
            ("pub struct K {\n    pub k: i32,\n}\n}\n", false),
        ];
        for (item, as_written) in cases {
            let mut out = String::new();
            assert_eq!(lay_out_as_written(item, &mut out), *as_written, "{item}");
            if syn::parse_file(item).is_err() {
                assert!(pretty_messages(item, true).is_err(), "{item}");
                continue;
            }
            let expected = prettyplease(item);
            if *as_written {
                assert_eq!(out, expected, "{item}");
            }
            assert_eq!(pretty_messages(item, true).unwrap(), expected, "{item}");
        }
    }

    /// Each shape of long line prost-build writes, at every depth and every length around where
    /// prettyplease breaks it (89 columns less the indentation, but never fewer than 60 for the
    /// text): written as laid out, and what prettyplease makes of it.
    #[test]
    fn lines_at_any_depth_break_where_prettyplease_breaks_them() {
        let lines = |width: usize| {
            let name = |used: usize| "x".repeat(width.saturating_sub(used).max(1));
            [
                // In a struct: a field whose type has generic arguments, an attribute.
                (
                    "pub struct S {",
                    format!("pub f: ::core::option::Option<{}>,", name(31)),
                ),
                (
                    "pub struct S {",
                    format!("#[prost(enumeration = \"{}\", tag = \"1\")]", name(35)),
                ),
                // In an enum: a tuple variant.
                ("pub enum E {", format!("V({}),", name(4))),
            ]
        };
        for depth in 0..10 {
            // Lines written as laid out at this depth: kept whole, broken.
            let (mut whole, mut broken) = (0, 0);
            let indent = |level: usize| " ".repeat(4 * level);
            for width in 40..100 {
                for (open, line) in lines(width) {
                    let mut item = String::new();
                    for level in 0..depth {
                        item.push_str(&format!("{}pub mod m{level} {{\n", indent(level)));
                    }
                    item.push_str(&format!("{}{open}\n", indent(depth)));
                    item.push_str(&format!("{}{line}\n", indent(depth + 1)));
                    if open.starts_with("pub struct") && line.starts_with('#') {
                        item.push_str(&format!("{}pub f: i32,\n", indent(depth + 1)));
                    }
                    for level in (0..=depth).rev() {
                        item.push_str(&format!("{}}}\n", indent(level)));
                    }
                    // Left to prettyplease: lines with a part too long for a line of its own.
                    let mut out = String::new();
                    if lay_out_as_written(&item, &mut out) {
                        assert_eq!(out, prettyplease(&item), "{item}");
                        if out.lines().count() > item.lines().count() {
                            broken += 1;
                        } else {
                            whole += 1;
                        }
                    }
                }
            }
            assert!(
                whole >= 20 && broken >= 20,
                "depth {depth}: {whole} and {broken}"
            );
        }
        // A match arm deep in an impl, whole while it fits without its comma.
        for depth in 0..8 {
            for width in 40..100 {
                let pad = |level: usize| " ".repeat(4 * level);
                let value = "V".repeat(width - 12);
                let mut item = String::new();
                for level in 0..depth {
                    item.push_str(&format!("{}pub mod m{level} {{\n", pad(level)));
                }
                item.push_str(&format!(
                    "{0}impl E {{\n{1}pub fn f(&self) -> &'static str {{\n{2}match self {{\n{3}Self::A => \"{value}\",\n{2}}}\n{1}}}\n{0}}}\n",
                    pad(depth),
                    pad(depth + 1),
                    pad(depth + 2),
                    pad(depth + 3)
                ));
                for level in (0..depth).rev() {
                    item.push_str(&format!("{}}}\n", pad(level)));
                }
                let mut out = String::new();
                assert!(lay_out_as_written(&item, &mut out), "{item}");
                assert_eq!(out, prettyplease(&item), "{item}");
            }
        }
    }

    /// prost-build's own output for the well-known types (proto2, defaults of every kind, long
    /// names, nested enums, deprecated values, oneofs, maps): written as laid out, it is what
    /// prettyplease makes of it, and most of it is written rather than formatted.
    #[test]
    fn prost_builds_output_for_the_well_known_types_is_laid_out_as_prettyplease_lays_it_out() {
        let names = [
            "google/protobuf/descriptor.proto",
            "google/protobuf/compiler/plugin.proto",
            "google/protobuf/any.proto",
            "google/protobuf/api.proto",
            "google/protobuf/duration.proto",
            "google/protobuf/empty.proto",
            "google/protobuf/field_mask.proto",
            "google/protobuf/struct.proto",
            "google/protobuf/timestamp.proto",
            "google/protobuf/type.proto",
            "google/protobuf/wrappers.proto",
        ];
        let mut compiler = protox::Compiler::new::<_, &str>([]).unwrap();
        compiler.include_source_info(true);
        compiler.open_files(names).unwrap();
        let files = compiler.file_descriptor_set().file;
        let requests = files
            .into_iter()
            .map(|file| {
                let module = prost_build::Module::from_protobuf_package_name(file.package());
                (module, file)
            })
            .collect();
        let modules = prost_build::Config::new()
            .compile_well_known_types()
            .format(false)
            .generate(requests)
            .unwrap();
        let (mut written, mut total) = (0, 0);
        for code in modules.values() {
            assert_eq!(pretty_messages(code, true).unwrap(), prettyplease(code));
            for item in top_level_items(code) {
                total += item.len();
                if lay_out_as_written(item, &mut String::new()) {
                    written += item.len();
                }
            }
        }
        assert!(
            written * 10 > total * 9,
            "{written} of {total} bytes written as laid out"
        );
    }

    #[test]
    fn only_paths_spelled_as_prettyplease_prints_them_are_plain() {
        for plain in [
            "::prost_types",
            "crate::pb",
            "super::r#type",
            "pbjson_types",
            "_x::Y1",
        ] {
            assert!(plain_path(plain), "{plain}");
        }
        for odd in [
            "::pbjson_types ",
            "crate :: pb",
            "a::B::<u8>",
            "M<A,B>",
            "pbjson-types",
            "a::",
            "::",
            "",
        ] {
            assert!(!plain_path(odd), "{odd}");
        }
    }

    #[test]
    fn a_run_that_does_not_parse_alone_falls_back_to_the_whole() {
        // A string literal whose lines look like the end of an item.
        let mut code = prost_like(1_500);
        code.push_str("pub const TEXT: &str = \"\n}\n");
        code.push_str(&"x\n}\n".repeat(PIECE_BYTES / 2));
        code.push_str("\";\n");
        code.push_str(&prost_like(10));
        let whole = prettyplease(&code);
        assert!(pretty_messages(&code, true).unwrap() == whole);
        assert!(pretty_messages(&code, false).unwrap() == whole);
        // An item that leaves a bracket open reaches the parser.
        assert!(pretty_messages("pub struct {", true).is_err());
        assert!(pretty_messages("pub struct A {\n    a: i32,\n}\npub struct B {\n", true).is_err());
    }
}
