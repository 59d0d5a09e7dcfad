//! Proto comments as rustdoc, made safe: a comment can never turn into a doctest that fails, a
//! broken intra-doc link or a stray HTML tag.

use proc_macro2::TokenStream;
use prost_build::Comments;
use quote::quote;

/// `#[doc = "…"]` attributes for a proto element's leading and trailing comments, followed by the
/// generator's own lines (written as Markdown, not escaped) after a blank line.
pub fn doc_attrs(comments: &Comments, generated: &[&str]) -> TokenStream {
    let lines = doc_lines(comments, generated);
    quote! { #( #[doc = #lines] )* }
}

/// The values of the `#[doc]` attributes [`doc_attrs`] writes, one per line.
pub fn doc_lines(comments: &Comments, generated: &[&str]) -> Vec<String> {
    let mut lines = comments.leading.clone();
    if !comments.trailing.is_empty() {
        if !lines.is_empty() {
            lines.push(String::new());
        }
        lines.extend(comments.trailing.iter().cloned());
    }
    let mut lines = sanitize(&lines);
    if !lines.is_empty() && !generated.is_empty() {
        lines.push(String::new());
    }
    lines.extend(generated.iter().map(|line| format!(" {line}")));
    lines
}

/// `#[doc = "…"]` attributes for text the generator writes itself.
pub fn doc(text: &str) -> TokenStream {
    let lines = text.lines().map(|line| format!(" {line}"));
    quote! { #( #[doc = #lines] )* }
}

/// Rewrites comment lines into Markdown that rustdoc renders as written:
/// - fenced blocks without a language, or marked `rust`, become `text` so they are not doctests;
/// - indented blocks (which Markdown makes code, hence doctests) are fenced as `text`;
/// - outside code, `[`, `]`, `<` and `>` are escaped so they are neither links nor HTML.
pub fn sanitize(lines: &[String]) -> Vec<String> {
    let dedent = common_indent(lines);
    let mut out = Vec::with_capacity(lines.len());
    let mut in_fence = false;
    let mut in_indented = false;
    for raw in lines {
        let line = raw.get(dedent..).unwrap_or_else(|| raw.trim_start());
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            close_indented(&mut out, &mut in_indented);
            if in_fence {
                out.push(format!(" {trimmed}"));
            } else {
                let fence = &trimmed[..3];
                let info = trimmed[3..].trim();
                let info = if info.is_empty() || info.starts_with("rust") {
                    "text"
                } else {
                    info
                };
                out.push(format!(" {fence}{info}"));
            }
            in_fence = !in_fence;
        } else if in_fence {
            out.push(format!(" {line}"));
        } else if line.starts_with("    ") || line.starts_with('\t') {
            if !in_indented {
                out.push(" ```text".to_owned());
                in_indented = true;
            }
            out.push(format!(" {line}"));
        } else {
            close_indented(&mut out, &mut in_indented);
            out.push(if line.is_empty() {
                String::new()
            } else {
                format!(" {}", escape(line))
            });
        }
    }
    close_indented(&mut out, &mut in_indented);
    if in_fence {
        out.push(" ```".to_owned());
    }
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out
}

fn close_indented(out: &mut Vec<String>, in_indented: &mut bool) {
    if *in_indented {
        out.push(" ```".to_owned());
        *in_indented = false;
    }
}

/// protoc keeps the space after `//`; remove the indentation every non-blank line shares.
fn common_indent(lines: &[String]) -> usize {
    lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0)
}

fn escape(line: &str) -> String {
    let mut escaped = String::with_capacity(line.len());
    let mut in_code = false;
    for c in line.chars() {
        match c {
            '`' => {
                in_code = !in_code;
                escaped.push(c);
            }
            '[' | ']' if !in_code => {
                escaped.push('\\');
                escaped.push(c);
            }
            '<' if !in_code => escaped.push_str("&lt;"),
            '>' if !in_code => escaped.push_str("&gt;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn plain_comments_keep_their_words() {
        assert_eq!(
            sanitize(&lines(" Sends a greeting.\n\n Second paragraph.")),
            [" Sends a greeting.", "", " Second paragraph."]
        );
    }

    #[test]
    fn indented_blocks_become_text_fences() {
        assert_eq!(
            sanitize(&lines(" Example:\n\n     let x = 1;\n     x + 1\n Done.")),
            [
                " Example:",
                "",
                " ```text",
                "     let x = 1;",
                "     x + 1",
                " ```",
                " Done."
            ]
        );
    }

    #[test]
    fn unlabelled_and_rust_fences_become_text() {
        assert_eq!(
            sanitize(&lines(
                " ```\n fn main() {}\n ```\n ```rust,ignore\n x\n ```\n ```json\n {}"
            )),
            [
                " ```text",
                " fn main() {}",
                " ```",
                " ```text",
                " x",
                " ```",
                " ```json",
                " {}",
                " ```"
            ]
        );
    }

    #[test]
    fn brackets_and_angles_are_escaped_outside_code() {
        assert_eq!(
            sanitize(&lines(" See [RFC 1234] for <details>, `Vec<[u8]>` stays.")),
            [r" See \[RFC 1234\] for &lt;details&gt;, `Vec<[u8]>` stays."]
        );
    }
}
