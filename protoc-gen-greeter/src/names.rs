//! Every Rust name the generator emits comes from here, so the naming rules live in one place.
//!
//! The rules follow prost-build's, because generated services refer to prost-generated modules
//! and types: snake case for functions and modules, upper camel case for types, Rust keywords as
//! raw identifiers (`r#type`), and the few keywords that cannot be raw (`self`, `super`, `crate`,
//! `Self`, `extern`, `_`) suffixed with `_`.

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span};

/// Keywords that may be written as raw identifiers.
const RAW_KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "else", "enum", "false", "fn", "for", "if", "impl", "in",
    "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static", "struct",
    "trait", "true", "type", "unsafe", "use", "where", "while", "dyn", "abstract", "become", "box",
    "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "async",
    "await", "try", "gen",
];

/// Keywords that cannot be raw identifiers.
const UNRAWABLE_KEYWORDS: &[&str] = &["_", "super", "self", "Self", "extern", "crate"];

/// Turns an arbitrary word into a usable identifier string (keywords escaped, leading digits
/// prefixed).
pub fn sanitize(word: &str) -> String {
    if RAW_KEYWORDS.contains(&word) {
        format!("r#{word}")
    } else if UNRAWABLE_KEYWORDS.contains(&word) {
        format!("{word}_")
    } else if word.starts_with(|c: char| c.is_ascii_digit()) || word.is_empty() {
        format!("_{word}")
    } else {
        word.to_owned()
    }
}

/// Builds an `Ident` from a sanitized string, raw or not.
pub fn ident(sanitized: &str) -> Ident {
    match sanitized.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(sanitized, Span::call_site()),
    }
}

/// `SayHello` → `say_hello`; `type` → `r#type`.
pub fn snake(name: &str) -> String {
    sanitize(&name.to_snake_case())
}

/// `say_hello` → `SayHello`; `Self` → `Self_`.
pub fn upper_camel(name: &str) -> String {
    sanitize(&name.to_upper_camel_case())
}

/// `SayHello` → `SAY_HELLO`, for constants.
pub fn shouty(name: &str) -> String {
    sanitize(&name.to_shouty_snake_case())
}

/// The names generated for one service.
#[derive(Debug, Clone)]
pub struct ServiceNames {
    /// The service trait, e.g. `Greeter`.
    pub trait_name: String,
    /// The server type, e.g. `GreeterServer`.
    pub server: String,
    /// The routing table the server type is made of, e.g. `GreeterRoutes`.
    pub routes: String,
    /// The client type, e.g. `GreeterClient`.
    pub client: String,
    /// The module holding the server, e.g. `greeter_server`.
    pub server_module: String,
    /// The module holding the client, e.g. `greeter_client`.
    pub client_module: String,
    /// The module holding the method descriptions, e.g. `greeter_methods`.
    pub methods_module: String,
    /// The module holding the typed per-method hooks, e.g. `greeter_hooks`.
    pub hooks_module: String,
    /// The typed hooks trait, e.g. `GreeterHooks`.
    pub hooks_trait: String,
    /// The module holding the per-method contracts, e.g. `greeter_contract`.
    pub contract_module: String,
    /// Which hook sees which method's messages, e.g. `GreeterHookRoutes`.
    pub hook_routes: String,
}

impl ServiceNames {
    pub fn new(proto_name: &str) -> Self {
        let camel = proto_name.to_upper_camel_case();
        let snake = proto_name.to_snake_case();
        Self {
            trait_name: upper_camel(proto_name),
            server: format!("{camel}Server"),
            routes: format!("{camel}Routes"),
            client: format!("{camel}Client"),
            server_module: format!("{snake}_server"),
            client_module: format!("{snake}_client"),
            methods_module: format!("{snake}_methods"),
            hooks_module: format!("{snake}_hooks"),
            hooks_trait: format!("{camel}Hooks"),
            contract_module: format!("{snake}_contract"),
            hook_routes: format!("{camel}HookRoutes"),
        }
    }
}

/// The names generated for one method.
#[derive(Debug, Clone)]
pub struct MethodNames {
    /// Trait and client function, e.g. `say_hello`.
    pub function: String,
    /// Method constant in the methods module, e.g. `SAY_HELLO`.
    pub constant: String,
    /// Associated stream type for server-streaming methods, e.g. `LotsOfRepliesStream`.
    pub stream: String,
    /// The hook that sees each request message, e.g. `say_hello` (the function's name).
    pub request_hook: String,
    /// The hook that sees each response message, e.g. `say_hello_response`.
    pub response_hook: String,
}

/// Gives every method of one service its names, making them unique: two proto methods whose
/// names differ only in case (`Get` and `get`) would otherwise collide in Rust, and neither may a
/// response hook (`get_response`) and another method's request hook (`GetResponse`).
pub fn method_names<'a>(proto_names: impl IntoIterator<Item = &'a str>) -> Vec<MethodNames> {
    let mut taken_functions: Vec<String> = Vec::new();
    let mut taken_constants: Vec<String> =
        RESERVED_CONSTANTS.iter().map(|c| c.to_string()).collect();
    let mut names: Vec<MethodNames> = proto_names
        .into_iter()
        .map(|proto_name| {
            let function = unique(snake(proto_name), &mut taken_functions);
            let constant = unique(shouty(proto_name), &mut taken_constants);
            let camel = function.trim_start_matches("r#").to_upper_camel_case();
            MethodNames {
                stream: format!("{camel}Stream"),
                request_hook: function.clone(),
                response_hook: String::new(),
                function,
                constant,
            }
        })
        .collect();
    // Request hooks are the functions' names; response hooks yield to all of them.
    let mut taken_hooks = taken_functions;
    for method in &mut names {
        // `self_` (a keyword escaped) gives `self_response`, not `self__response`.
        let base = method
            .function
            .trim_start_matches("r#")
            .trim_end_matches('_');
        method.response_hook = unique(format!("{base}_response"), &mut taken_hooks);
    }
    names
}

/// Constants every methods module defines besides the per-method ones.
const RESERVED_CONSTANTS: &[&str] = &["SERVICE_NAME", "METHODS"];

fn unique(candidate: String, taken: &mut Vec<String>) -> String {
    let mut name = candidate.clone();
    let mut counter = 2;
    while taken.contains(&name) {
        name = format!("{}_{counter}", candidate.trim_start_matches("r#"));
        counter += 1;
    }
    taken.push(name.clone());
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_names() {
        for (proto, rust) in [
            ("SayHello", "say_hello"),
            ("HTTPRequest", "http_request"),
            ("GetHTTPResponse", "get_http_response"),
            ("type", "r#type"),
            ("Async", "r#async"),
            ("Self", "self_"),
            ("super", "super_"),
            ("Crate", "crate_"),
            ("_", "_"),
            ("lower_snake", "lower_snake"),
            ("v1", "v1"),
        ] {
            assert_eq!(snake(proto), rust, "snake({proto})");
        }
    }

    #[test]
    fn camel_case_names() {
        for (proto, rust) in [
            ("greeter", "Greeter"),
            ("http_request", "HttpRequest"),
            ("HTTPRequest", "HttpRequest"),
            ("Self", "Self_"),
            ("self", "Self_"),
            ("type", "Type"),
        ] {
            assert_eq!(upper_camel(proto), rust, "upper_camel({proto})");
        }
    }

    #[test]
    fn leading_digits_and_idents() {
        assert_eq!(sanitize("3d"), "_3d");
        assert_eq!(ident("r#type").to_string(), "r#type");
        assert_eq!(ident("say_hello").to_string(), "say_hello");
    }

    #[test]
    fn service_names() {
        let names = ServiceNames::new("Greeter");
        assert_eq!(names.trait_name, "Greeter");
        assert_eq!(names.server, "GreeterServer");
        assert_eq!(names.client_module, "greeter_client");
        let odd = ServiceNames::new("HTTPService");
        assert_eq!(odd.server, "HttpServiceServer");
        assert_eq!(odd.methods_module, "http_service_methods");
        assert_eq!(ServiceNames::new("Self").trait_name, "Self_");
    }

    #[test]
    fn method_names_are_unique_per_service() {
        let names = method_names(["Get", "get", "Type", "Methods", "Self"]);
        let functions: Vec<_> = names.iter().map(|n| n.function.as_str()).collect();
        assert_eq!(functions, ["get", "get_2", "r#type", "methods", "self_"]);
        let constants: Vec<_> = names.iter().map(|n| n.constant.as_str()).collect();
        assert_eq!(constants, ["GET", "GET_2", "TYPE", "METHODS_2", "SELF"]);
        assert_eq!(names[2].stream, "TypeStream");
        assert_eq!(names[4].stream, "SelfStream");
    }

    #[test]
    fn hook_names_are_unique_per_service() {
        let names = method_names(["GetResponse", "Get", "type", "Type", "Self"]);
        let hooks: Vec<_> = names
            .iter()
            .map(|n| (n.request_hook.as_str(), n.response_hook.as_str()))
            .collect();
        assert_eq!(
            hooks,
            [
                ("get_response", "get_response_response"),
                ("get", "get_response_2"),
                ("r#type", "type_response"),
                ("type_2", "type_2_response"),
                ("self_", "self_response"),
            ]
        );
        let names = ServiceNames::new("Greeter");
        assert_eq!(names.hooks_module, "greeter_hooks");
        assert_eq!(names.hooks_trait, "GreeterHooks");
        assert_eq!(names.hook_routes, "GreeterHookRoutes");
    }
}
