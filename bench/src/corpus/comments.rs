//! Leading comments for the generated corpus, in the shapes googleapis comments take: plain
//! sentences, URLs bare and in angle brackets, indented example blocks, `[Type][ref]` links,
//! bullet lists with HTML and braces. Chosen by a counter so the corpus is deterministic.

use std::fmt::Write as _;

/// The source of the corpus' leading comments.
pub(super) struct Comments {
    next: usize,
}

impl Comments {
    pub(super) fn new(seed: usize) -> Self {
        Comments { next: seed }
    }

    /// Writes a comment about `subject`, each line indented by `indent`.
    pub(super) fn leading(&mut self, out: &mut String, indent: &str, subject: &str) {
        self.next = self.next.wrapping_mul(31).wrapping_add(17);
        let body: &[&str] = match self.next % 6 {
            0 => &[""],
            1 => &[
                "",
                "See https://cloud.google.com/apis/design/resource_names for the format,",
                "and <https://google.aip.dev/122> for why.",
            ],
            2 => &[
                "",
                "Example:",
                "",
                "    name: \"projects/my-project/things/thing-1\"",
                "    labels { key: \"env\" value: \"prod\" }",
            ],
            3 => &[
                " Output only; set by the server.",
                "Values are kept in [google.protobuf.Timestamp][] form, e.g. [2024-01-01].",
            ],
            4 => &[
                "",
                "* `name`: required; the [Thing][google.example.Thing] to use.",
                "* `size`: optional <b>in bytes</b>; a value of 0 means {unset}.",
            ],
            _ => &[" (Deprecated) Use the newer field; see `Foo::bar()` & co."],
        };
        let _ = writeln!(out, "{indent}// {subject}.{}", body[0]);
        for line in &body[1..] {
            if line.is_empty() {
                let _ = writeln!(out, "{indent}//");
            } else {
                let _ = writeln!(out, "{indent}// {line}");
            }
        }
    }
}
