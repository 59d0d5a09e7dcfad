//! Writing generated items straight into prettyplease's layout, without building tokens, parsing
//! them into syn and printing them again (which was most of the plugin's time on services).
//!
//! A writer lays out what the generator writes the same way every time; where prettyplease's
//! layout depends on how long a name is, the writer makes the same choice prettyplease makes, and
//! where it knows no such choice (a name so long that prettyplease would break a line the writer
//! keeps whole) it gives up: the item then goes through syn and prettyplease as before. The unit
//! tests hold every writer to prettyplease's output over names of every length.

/// prettyplease's indentation step.
pub(super) const INDENT: usize = 4;

/// Lines of code at an indentation that opening and closing blocks move.
pub(super) struct Lines {
    pub out: String,
    indent: usize,
}

impl Lines {
    /// Lines for top-level items.
    pub fn new() -> Self {
        Self {
            out: String::new(),
            indent: 0,
        }
    }

    /// Whether `text` fits on a line at the current indentation: in what is left of the margin,
    /// but never fewer than 60 columns, as prettyplease counts.
    pub fn fits(&self, text: &str) -> bool {
        crate::format::fits(self.indent, text.len())
    }

    /// One line at the current indentation.
    pub fn line(&mut self, text: &str) {
        self.pad();
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// One line made of pieces, at the current indentation.
    pub fn line_of(&mut self, pieces: &[&str]) {
        self.pad();
        for piece in pieces {
            self.out.push_str(piece);
        }
        self.out.push('\n');
    }

    /// Lines of fixed text, each indented as written plus the current indentation.
    pub fn block(&mut self, text: &str) {
        for line in text.lines() {
            if line.is_empty() {
                self.out.push('\n');
            } else {
                self.line(line);
            }
        }
    }

    /// A line that opens a block: what follows is indented one step more.
    pub fn open(&mut self, text: &str) {
        self.line(text);
        self.indent += INDENT;
    }

    /// A line that closes a block, one step out.
    pub fn close(&mut self, text: &str) {
        self.indent -= INDENT;
        self.line(text);
    }

    /// Opens `impl … Trait for Type {`: on one line if it fits, else broken before `for`, as
    /// prettyplease breaks it. `None` when even the part before `for` does not fit.
    pub fn open_impl(&mut self, implemented: &str, for_type: &str) -> Option<()> {
        let flat = format!("{implemented} for {for_type} {{");
        if self.fits(&flat) {
            self.open(&flat);
        } else if self.fits(implemented) {
            self.line(implemented);
            self.open(&format!("for {for_type} {{"));
        } else {
            return None;
        }
        Some(())
    }

    /// A line that closes a block and opens the next at the same level, `) -> T {`.
    pub fn reopen(&mut self, text: &str) {
        self.indent -= INDENT;
        self.open(text);
    }

    /// One step in, writing nothing.
    pub fn indent_in(&mut self) {
        self.indent += INDENT;
    }

    /// One step out, writing nothing.
    pub fn outdent(&mut self) {
        self.indent -= INDENT;
    }

    /// The generator's own documentation: `///` and each line of `text` after a space, as
    /// prettyplease prints `#[doc = " line"]` (trailing spaces trimmed).
    pub fn doc(&mut self, text: &str) {
        for line in text.lines() {
            self.pad();
            self.out.push_str("/// ");
            self.out.push_str(line);
            let end = self.out.trim_end_matches(' ').len();
            self.out.truncate(end);
            self.out.push('\n');
        }
    }

    /// `#[doc]` attributes with these values, as prettyplease prints them: `///` and the value
    /// with trailing spaces trimmed. `None` for a value prettyplease prints otherwise (one that
    /// starts with `/` or spans lines).
    pub fn doc_values(&mut self, values: &[String]) -> Option<()> {
        for value in values {
            if value.starts_with('/') || value.contains(['\n', '\r']) {
                return None;
            }
            self.pad();
            self.out.push_str("///");
            self.out.push_str(value.trim_end_matches(' '));
            self.out.push('\n');
        }
        Some(())
    }

    fn pad(&mut self) {
        self.out.extend(std::iter::repeat_n(' ', self.indent));
    }
}

/// A type with generic arguments, or a word: what prettyplease breaks at `<` when a line is
/// too long for it.
pub(super) enum Ty {
    Word(String),
    /// `head<arguments>`, the head holding whatever comes before the `<` (`Output = rt::Result`).
    Generic(String, Vec<Ty>),
}

impl Ty {
    pub fn generic(head: &str, arguments: impl IntoIterator<Item = Ty>) -> Self {
        Self::Generic(head.to_owned(), arguments.into_iter().collect())
    }

    pub fn word(text: impl Into<String>) -> Self {
        Self::Word(text.into())
    }

    /// On one line.
    pub fn flat(&self) -> String {
        match self {
            Self::Word(word) => word.clone(),
            Self::Generic(head, arguments) => {
                let arguments: Vec<String> = arguments.iter().map(Ty::flat).collect();
                format!("{head}<{}>", arguments.join(", "))
            }
        }
    }

    /// Written at the current indentation after `before` and followed by `tail`: on one line
    /// if it fits, else broken at `<`, each argument a step in and followed by a comma. Whether
    /// the line fits counts the tail unless it is the comma prettyplease writes after the last
    /// item of a list it broke (`Tail::LastComma`). A word too long for its line runs past the
    /// margin, as prettyplease lets it.
    pub fn write(&self, code: &mut Lines, before: &str, tail: Tail) {
        let flat = format!("{before}{}", self.flat());
        let (tail, counted) = match tail {
            Tail::Text(text) => (text, text),
            Tail::LastComma => (",", ""),
        };
        if code.fits(&format!("{flat}{counted}")) {
            code.line_of(&[&flat, tail]);
            return;
        }
        let Self::Generic(head, arguments) = self else {
            // A word has nowhere to break: prettyplease lets it run past the margin.
            code.line_of(&[&flat, tail]);
            return;
        };
        code.open(&format!("{before}{head}<"));
        for (i, argument) in arguments.iter().enumerate() {
            let tail = if i + 1 == arguments.len() {
                Tail::LastComma
            } else {
                Tail::Text(",")
            };
            argument.write(code, "", tail);
        }
        code.close(&format!(">{tail}"));
    }
}

/// What follows a [`Ty`] on its line.
#[derive(Clone, Copy)]
pub(super) enum Tail {
    Text(&'static str),
    /// The comma after the last item of a broken list.
    LastComma,
}

/// A string literal as quote writes it, for text that needs no escapes; `None` otherwise.
pub(super) fn literal(text: &str) -> Option<String> {
    text.bytes()
        .all(|b| (b.is_ascii_graphic() && b != b'"' && b != b'\\') || b == b' ')
        .then(|| format!("\"{text}\""))
}

/// A type as prettyplease prints it, for the types messages have: a path of plain segments
/// (`super::HelloRequest`, `::prost_types::Any`, `bool`) or `()`. `nested` adds the `super::`
/// that a relative path needs inside a service's modules ([`needs_super`](super::needs_super)).
/// `None` for anything else.
pub(super) fn type_text(ty: &syn::Type, nested: bool) -> Option<String> {
    match ty {
        syn::Type::Path(syn::TypePath { qself: None, path }) => {
            let mut text = String::new();
            if path.leading_colon.is_some() {
                text.push_str("::");
            } else if nested && super::needs_super(path) {
                text.push_str("super::");
            }
            for (i, segment) in path.segments.iter().enumerate() {
                if !segment.arguments.is_none() {
                    return None;
                }
                if i > 0 {
                    text.push_str("::");
                }
                text.push_str(&segment.ident.to_string());
            }
            Some(text)
        }
        syn::Type::Tuple(tuple) if tuple.elems.is_empty() => Some("()".to_owned()),
        _ => None,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use proc_macro2::TokenStream;
    use prost_build::Comments;

    use crate::contract::{Contract, Field, FieldType};
    use crate::generate::Context;
    use crate::model::{Idempotency, Method, Service};
    use crate::names;
    use crate::options::Options;

    /// A name `len` characters long that starts with `prefix`.
    fn name(prefix: &str, len: usize) -> String {
        let mut name = prefix.to_owned();
        while name.len() < len {
            name.push('x');
        }
        name
    }

    /// One method of a made-up service, by the lengths of what varies.
    pub struct Spec {
        pub method: usize,
        pub message: usize,
        pub streaming: (bool, bool),
        pub deprecated: bool,
        pub checked: bool,
        /// Request and response are `google.protobuf.Empty`, which is `()` in Rust.
        pub empty: bool,
    }

    /// A service of `package` named `service` with the methods `specs` describe.
    pub fn service(package: &str, service: &str, deprecated: bool, specs: &[Spec]) -> Service {
        let proto_names: Vec<String> = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| name(&format!("M{i}"), spec.method))
            .collect();
        let method_names = names::method_names(proto_names.iter().map(String::as_str));
        let full_name = format!("{package}.{service}");
        let methods = specs
            .iter()
            .zip(proto_names)
            .zip(method_names)
            .map(|((spec, proto_name), names)| {
                let message = name("Msg", spec.message);
                let mut contract = Contract::default();
                if spec.checked {
                    contract.fields.request.push(Field {
                        key: "tenant".to_owned(),
                        name: "tenant".to_owned(),
                        ty: FieldType::String,
                        required: true,
                        repeated: false,
                        doc: String::new(),
                    });
                }
                let (input, output) = if spec.empty {
                    ("()".to_owned(), "()".to_owned())
                } else {
                    (message.clone(), format!("::ext::{message}"))
                };
                Method {
                    names,
                    comments: Comments::default(),
                    input: syn::parse_str(&input).unwrap(),
                    output: syn::parse_str(&output).unwrap(),
                    input_proto: format!("{package}.{message}"),
                    output_proto: format!("ext.{message}"),
                    client_streaming: spec.streaming.0,
                    server_streaming: spec.streaming.1,
                    idempotency: Idempotency::NoSideEffects,
                    deprecated: spec.deprecated,
                    contract,
                    proto_name,
                }
            })
            .collect();
        Service {
            names: names::ServiceNames::new(service),
            full_name,
            comments: Comments::default(),
            deprecated,
            methods,
            defaults: Default::default(),
        }
    }

    pub fn pretty(tokens: TokenStream) -> String {
        prettyplease::unparse(&syn::parse2(tokens).unwrap())
    }

    /// Services whose names, paths and types are of every length around the margin.
    pub fn services_of_every_length() -> Vec<Service> {
        let mut services = Vec::new();
        for len in 1..=72 {
            let specs = |message: usize| {
                [(false, false), (false, true), (true, false), (true, true)]
                    .into_iter()
                    .enumerate()
                    .map(|(i, streaming)| Spec {
                        method: len,
                        message,
                        streaming,
                        deprecated: i == 1,
                        checked: i % 2 == 0,
                        empty: false,
                    })
                    .collect::<Vec<_>>()
            };
            services.push(service("p", &name("S", len), false, &specs(8)));
            services.push(service(&name("pkg.v", len), "S", len % 2 == 0, &specs(len)));
            services.push(service("pkg.v1", "Svc", false, &specs(len)));
            services.push(service(
                &name("a.b", len / 2),
                &name("T", len / 2),
                false,
                &specs(len / 3 + 1),
            ));
            // One method and two: lists whose length grows a character at a time.
            let one = |method| Spec {
                method,
                message: len,
                streaming: (len % 2 == 0, len % 3 == 0),
                deprecated: false,
                checked: len % 4 == 0,
                empty: len % 5 == 0,
            };
            services.push(service("q.v1", "Svc", false, &[one(len)]));
            // Empty messages (`()`) with short names: the shortest types there are.
            let empty = |method, streaming| Spec {
                method,
                message: 1,
                streaming,
                deprecated: false,
                checked: false,
                empty: true,
            };
            if len <= 24 {
                let kinds = [(false, false), (false, true), (true, false), (true, true)];
                let specs: Vec<Spec> = kinds.into_iter().map(|kind| empty(len, kind)).collect();
                services.push(service("e", &name("E", len), false, &specs));
            }
            services.push(service(
                "q.v1",
                "Svc",
                false,
                &[one(len / 2 + 1), one(len - len / 2)],
            ));
        }
        services.push(service("p", "Empty", false, &[]));
        services
    }

    /// Whether the writer gave up, or wrote what prettyplease makes of the tokens.
    fn check(what: &str, service: &Service, text: Option<String>, tokens: TokenStream) -> bool {
        let Some(text) = text else {
            // Of these services only those with names past 40 characters make a writer give up
            // (real input also does for generic extern types, `\r` in comments, stubs).
            assert!(
                service.names.trait_name.len() > 40,
                "{what} of {} not written",
                service.full_name
            );
            return false;
        };
        let expected = if tokens.is_empty() {
            String::new()
        } else {
            pretty(tokens)
        };
        if text != expected {
            let at = text
                .lines()
                .zip(expected.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            let show = |code: &str| {
                code.lines()
                    .skip(at.saturating_sub(3))
                    .take(8)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            panic!(
                "{what} of {} differs at line {at}:\n--- written\n{}\n--- prettyplease\n{}",
                service.full_name,
                show(&text),
                show(&expected)
            );
        }
        true
    }

    #[test]
    fn written_modules_are_laid_out_as_prettyplease_lays_them_out() {
        let options = Options::parse("").unwrap();
        let cx = Context::new(&options).unwrap();
        let mut written = 0;
        for service in services_of_every_length() {
            let methods = super::super::methods::methods_module_text("::greeter_runtime", &service);
            let tokens = super::super::methods::generate_methods_module(&cx, &service);
            written += usize::from(check("methods", &service, methods, tokens));
            let server = super::super::server::server_text(&cx, "::greeter_runtime", &service);
            let tokens = super::super::server::generate_server(&cx, &service);
            written += usize::from(check("server", &service, server, tokens));
            let client = super::super::client::client_text("::greeter_runtime", &service);
            let tokens = super::super::client::generate_client(&cx, &service);
            written += usize::from(check("client", &service, client, tokens));
            let hooks = super::super::hooks::hooks_text("::greeter_runtime", &service);
            let tokens = super::super::hooks::generate_hooks(&cx, &service).unwrap_or_default();
            written += usize::from(check("hooks", &service, hooks, tokens));
        }
        assert!(written > 1050, "{written} written");
    }
}
