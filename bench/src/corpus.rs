//! A deterministic proto tree shaped like googleapis: packages of files, some holding services
//! whose methods have their own request and response messages, resource messages with fields of
//! every kind (scalars, repeated, maps, enums, nested messages, oneofs, proto3 `optional`,
//! well-known types, messages imported from other files and packages), all four streaming kinds,
//! and a leading comment on every element, some with the brackets, URLs and indented blocks that
//! real googleapis comments carry.

mod comments;

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use comments::Comments;

/// Sizes of a generated corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// Proto packages (`bench.pNNNN.v1`).
    pub packages: usize,
    /// Files per package.
    pub files: usize,
    /// Services per package, spread over its files.
    pub services: usize,
    /// Methods per service (each with its own request and response message).
    pub methods: usize,
    /// Resource messages per file (at least one), besides the request and response messages.
    pub messages: usize,
}

/// Named sizes of the generated corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scale {
    /// A few files, for `--quick` and tests.
    Quick,
    /// 20 packages, 60 files, 200 RPCs.
    Medium,
    /// At least googleapis' size: 7,000 files, 13,500 RPCs (protoc alone takes about 1.3 × as
    /// long as on googleapis itself).
    Googleapis,
}

/// Flags choosing the generated corpus: a scale, then any size overridden.
#[derive(Debug, Clone, clap::Args)]
pub struct SizeArgs {
    /// Size preset of the generated corpus.
    #[arg(long, value_enum)]
    pub scale: Option<Scale>,
    /// Proto packages of the generated corpus (overrides the preset).
    #[arg(long)]
    pub packages: Option<usize>,
    /// Files per package.
    #[arg(long)]
    pub files: Option<usize>,
    /// Services per package.
    #[arg(long)]
    pub services: Option<usize>,
    /// Methods per service.
    #[arg(long)]
    pub methods: Option<usize>,
    /// Resource messages per file.
    #[arg(long)]
    pub messages: Option<usize>,
}

impl SizeArgs {
    /// The preset named by `--scale` (else `default`) with the sizes given as flags.
    pub fn spec(&self, default: Scale) -> Spec {
        let preset = match self.scale.unwrap_or(default) {
            Scale::Quick => Spec::QUICK,
            Scale::Medium => Spec::MEDIUM,
            Scale::Googleapis => Spec::GOOGLEAPIS,
        };
        Spec {
            packages: self.packages.unwrap_or(preset.packages),
            files: self.files.unwrap_or(preset.files).max(1),
            services: self.services.unwrap_or(preset.services),
            methods: self.methods.unwrap_or(preset.methods),
            messages: self.messages.unwrap_or(preset.messages).max(1),
        }
    }
}

impl Spec {
    pub const GOOGLEAPIS: Spec = Spec {
        packages: 500,
        files: 14,
        services: 3,
        methods: 9,
        messages: 3,
    };
    pub const QUICK: Spec = Spec {
        packages: 3,
        files: 2,
        services: 2,
        methods: 4,
        messages: 2,
    };
    pub const MEDIUM: Spec = Spec {
        packages: 20,
        files: 3,
        services: 2,
        methods: 5,
        messages: 4,
    };

    /// What [`Spec::write`] produces, computed without writing anything.
    pub fn counts(&self) -> Counts {
        let files = self.packages * self.files;
        let services = self.packages * self.services;
        let rpcs = services * self.methods;
        Counts {
            files,
            services,
            rpcs,
            messages: files * self.messages + 2 * rpcs,
        }
    }

    /// The file names (relative to the corpus root), in writing order.
    #[cfg(test)]
    pub fn file_names(&self) -> Vec<String> {
        (0..self.packages)
            .flat_map(|p| (0..self.files).map(move |f| file_name(p, f)))
            .collect()
    }

    /// Writes the corpus under `root` (which should be empty or absent).
    pub fn write(&self, root: &Path) -> io::Result<()> {
        for package in 0..self.packages {
            let dir = root.join(format!("bench/p{package:04}/v1"));
            std::fs::create_dir_all(&dir)?;
            for file in 0..self.files {
                let text = self.file_text(package, file);
                std::fs::write(root.join(file_name(package, file)), text)?;
            }
        }
        Ok(())
    }

    /// Services of `package` living in `file` (round robin over the package's files).
    fn services_in(&self, file: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.services).filter(move |s| s % self.files == file)
    }

    fn file_text(&self, package: usize, file: usize) -> String {
        let mut out = String::new();
        let mut comments = Comments::new(package * 7919 + file * 104_729);
        out.push_str("syntax = \"proto3\";\n\n");
        comments.leading(
            &mut out,
            "",
            &format!("Package p{package} of the benchmark corpus"),
        );
        let _ = writeln!(out, "package {};\n", package_name(package));
        out.push_str("import \"google/protobuf/timestamp.proto\";\n");
        out.push_str("import \"google/protobuf/duration.proto\";\n");
        out.push_str("import \"google/protobuf/empty.proto\";\n");
        if file > 0 {
            let _ = writeln!(out, "import \"{}\";", file_name(package, 0));
        }
        if package > 0 {
            let _ = writeln!(out, "import \"{}\";", file_name(package - 1, file));
        }
        out.push('\n');

        let prefix = format!("F{file}");
        let state = format!("{prefix}State");
        comments.leading(
            &mut out,
            "",
            &format!("The lifecycle state of a {prefix} resource"),
        );
        let _ = writeln!(out, "enum {state} {{");
        for (number, value) in ["UNSPECIFIED", "CREATING", "ACTIVE", "DELETING"]
            .iter()
            .enumerate()
        {
            comments.leading(&mut out, "  ", &format!("The resource is {value}"));
            let _ = writeln!(out, "  {}_{value} = {number};", state_prefix(&state));
        }
        out.push_str("}\n\n");

        // Another message this file may use: one of the same package, then one of the package
        // before (googleapis files import `resources.proto` and other APIs' types that way).
        let mut foreign = Vec::new();
        if file > 0 {
            foreign.push("F0Resource0".to_owned());
        }
        if package > 0 {
            foreign.push(format!(".{}.F{file}Resource0", package_name(package - 1)));
        }
        for message in 0..self.messages {
            let name = format!("{prefix}Resource{message}");
            let other = foreign
                .get(message % foreign.len().max(1))
                .cloned()
                .unwrap_or_else(|| name.clone());
            self.resource(&mut out, &mut comments, &name, &state, &other);
        }
        for service in self.services_in(file) {
            self.service(&mut out, &mut comments, service, &prefix);
        }
        out
    }

    fn resource(&self, out: &mut String, c: &mut Comments, name: &str, state: &str, other: &str) {
        c.leading(out, "", &format!("A [{name}][{name}] resource"));
        let _ = writeln!(out, "message {name} {{");
        c.leading(out, "  ", "A part of the resource, kept with it");
        out.push_str("  message Part {\n");
        c.leading(out, "    ", "The part's key");
        out.push_str("    string key = 1;\n");
        c.leading(out, "    ", "How much of it there is");
        out.push_str("    int64 amount = 2;\n  }\n");
        let fields = [
            "string name = 1;".to_owned(),
            "int64 size_bytes = 2;".to_owned(),
            "repeated string labels_list = 3;".to_owned(),
            "map<string, string> labels = 4;".to_owned(),
            format!("{state} state = 5;"),
            "Part main_part = 6;".to_owned(),
            "repeated Part parts = 7;".to_owned(),
            "google.protobuf.Timestamp create_time = 8;".to_owned(),
            "google.protobuf.Duration ttl = 9;".to_owned(),
            "optional double score = 10;".to_owned(),
            "bytes etag = 11;".to_owned(),
            "bool enabled = 12;".to_owned(),
            format!("{other} related = 13;"),
            "map<int32, Part> parts_by_id = 14;".to_owned(),
            "uint32 revision = 15;".to_owned(),
            "fixed64 checksum = 16;".to_owned(),
        ];
        for field in &fields {
            let field_name = field.split_whitespace().rev().nth(2).unwrap_or("field");
            c.leading(out, "  ", &format!("The `{field_name}` of the resource"));
            let _ = writeln!(out, "  {field}");
        }
        c.leading(out, "  ", "Where the resource lives");
        out.push_str("  oneof location {\n");
        c.leading(out, "    ", "A region name");
        out.push_str("    string region = 20;\n");
        c.leading(out, "    ", "A zone number");
        out.push_str("    int32 zone = 21;\n");
        c.leading(out, "    ", "A part standing for the location");
        out.push_str("    Part site = 22;\n  }\n}\n\n");
    }

    fn service(&self, out: &mut String, c: &mut Comments, service: usize, prefix: &str) {
        let name = format!("Service{service}");
        c.leading(out, "", &format!("Manages {prefix} resources ({name})"));
        let _ = writeln!(out, "service {name} {{");
        let mut messages = String::new();
        for method in 0..self.methods {
            let verb = VERBS[method % VERBS.len()];
            let rpc = format!("{verb}{prefix}Thing{method}");
            let request = format!("{name}{rpc}Request");
            let response = format!("{name}{rpc}Response");
            // Every fourth method per kind, and one in seven answers Empty, as Delete* do.
            let (client_stream, server_stream) = match method % 8 {
                5 => ("stream ", ""),
                6 => ("", "stream "),
                7 => ("stream ", "stream "),
                _ => ("", ""),
            };
            let returns = if method % 7 == 3 && server_stream.is_empty() {
                "google.protobuf.Empty".to_owned()
            } else {
                response.clone()
            };
            c.leading(out, "  ", &format!("{verb}s a thing of the service, {rpc}"));
            let _ = writeln!(
                out,
                "  rpc {rpc}({client_stream}{request}) returns ({server_stream}{returns});"
            );
            c.leading(
                &mut messages,
                "",
                &format!("The request of [{rpc}][{name}.{rpc}]"),
            );
            let _ = writeln!(messages, "message {request} {{");
            c.leading(&mut messages, "  ", "The resource name");
            messages.push_str("  string name = 1;\n");
            c.leading(&mut messages, "  ", "The maximum number of items to return");
            messages.push_str("  int32 page_size = 2;\n");
            c.leading(&mut messages, "  ", "The resource to write");
            let _ = writeln!(messages, "  {prefix}Resource0 resource = 3;");
            messages.push_str("}\n\n");
            c.leading(&mut messages, "", &format!("The response of {rpc}"));
            let _ = writeln!(messages, "message {response} {{");
            c.leading(&mut messages, "  ", "The resources found");
            let _ = writeln!(messages, "  repeated {prefix}Resource0 items = 1;");
            c.leading(
                &mut messages,
                "  ",
                "A token for the next page, empty on the last",
            );
            messages.push_str("  string next_page_token = 2;\n}\n\n");
        }
        out.push_str("}\n\n");
        out.push_str(&messages);
    }
}

/// Totals of a corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub files: usize,
    pub services: usize,
    pub rpcs: usize,
    pub messages: usize,
}

const VERBS: [&str; 8] = [
    "Get", "List", "Create", "Update", "Delete", "Upload", "Watch", "Sync",
];

fn package_name(package: usize) -> String {
    format!("bench.p{package:04}.v1")
}

fn file_name(package: usize, file: usize) -> String {
    format!("bench/p{package:04}/v1/f{file:02}.proto")
}

/// `F0State` → `F0_STATE`, the prefix protobuf style gives enum values.
fn state_prefix(enum_name: &str) -> String {
    enum_name.replace("State", "_STATE").to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn googleapis_preset_is_at_least_googleapis_sized() {
        let counts = Spec::GOOGLEAPIS.counts();
        assert!(counts.files >= 7_000, "{counts:?}");
        assert!(counts.rpcs >= 12_000, "{counts:?}");
        assert_eq!(Spec::GOOGLEAPIS.file_names().len(), counts.files);
    }

    #[test]
    fn written_corpus_matches_its_counts_and_compiles() {
        let spec = Spec {
            packages: 3,
            files: 2,
            services: 3,
            methods: 9,
            messages: 2,
        };
        let dir = std::env::temp_dir().join(format!("greeter-bench-corpus-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        spec.write(&dir).unwrap();
        let names = spec.file_names();
        let descriptors = protox::compile(&names, [&dir]).unwrap();
        let _ = std::fs::remove_dir_all(&dir);

        let ours: Vec<_> = descriptors
            .file
            .iter()
            .filter(|file| file.name().starts_with("bench/"))
            .collect();
        let counts = spec.counts();
        assert_eq!(ours.len(), counts.files);
        let services: Vec<_> = ours.iter().flat_map(|f| &f.service).collect();
        assert_eq!(services.len(), counts.services);
        let methods: Vec<_> = services.iter().flat_map(|s| &s.method).collect();
        assert_eq!(methods.len(), counts.rpcs);
        let messages: usize = ours.iter().map(|f| f.message_type.len()).sum();
        assert_eq!(messages, counts.messages);
        // All four streaming kinds and the Empty response occur.
        let kinds: std::collections::BTreeSet<_> = methods
            .iter()
            .map(|m| (m.client_streaming(), m.server_streaming()))
            .collect();
        assert_eq!(kinds.len(), 4);
        assert!(
            methods
                .iter()
                .any(|m| m.output_type() == ".google.protobuf.Empty")
        );
        // Every message, field, service and method carries a leading comment.
        for file in &ours {
            let locations = &file.source_code_info.as_ref().unwrap().location;
            let commented = locations
                .iter()
                .filter(|l| l.leading_comments.is_some())
                .count();
            let elements = file.message_type.len()
                + file
                    .message_type
                    .iter()
                    .map(|m| m.field.len())
                    .sum::<usize>()
                + file.service.len()
                + file.service.iter().map(|s| s.method.len()).sum::<usize>();
            assert!(commented > elements, "{}", file.name());
        }
    }
}
