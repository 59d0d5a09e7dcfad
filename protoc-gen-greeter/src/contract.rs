//! Per-method contracts declared in the proto with `(greeter.contract)` on a method and
//! `(greeter.defaults)` on a service (`greeter/options.proto`): read from the descriptor pool,
//! checked, and resolved to Rust types.

use prost_reflect::{
    DescriptorPool, DynamicMessage, ExtensionDescriptor, MessageDescriptor, MethodDescriptor,
    ServiceDescriptor, Value,
};

use crate::names;

/// The options proto users import, as shipped with the generator.
pub const OPTIONS_PROTO: &str = include_str!("../../proto/greeter/options.proto");

/// The name users import it by.
pub const OPTIONS_PROTO_NAME: &str = "greeter/options.proto";

const METHOD_EXTENSION: &str = "greeter.contract";
const SERVICE_EXTENSION: &str = "greeter.defaults";

/// The google.rpc details the runtime provides (`greeter_runtime::status`).
const STANDARD_DETAILS: &[&str] = &[
    "ErrorInfo",
    "RetryInfo",
    "DebugInfo",
    "QuotaFailure",
    "PreconditionFailure",
    "BadRequest",
    "RequestInfo",
    "ResourceInfo",
    "Help",
    "LocalizedMessage",
];

/// gRPC status codes by number, as `greeter.Code` and google.rpc.Code name them.
const CODES: &[&str] = &[
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// One declared error of a method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorCase {
    /// The code as proto writes it, e.g. `RESOURCE_EXHAUSTED`.
    pub code: &'static str,
    pub detail: Option<Detail>,
    /// The variant of the method's `Error` enum.
    pub variant: String,
}

impl ErrorCase {
    /// The `tonic::Code` variant: `ResourceExhausted`.
    pub fn tonic_code(&self) -> String {
        names::upper_camel(&self.code.to_ascii_lowercase())
    }
}

/// The message type of an error's detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    /// Proto full name, e.g. `google.rpc.QuotaFailure`.
    pub full_name: String,
    pub rust: DetailType,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DetailType {
    /// One of the runtime's google.rpc types, by its name there.
    Standard(&'static str),
    /// A message of the user's: its Rust path, from the package module when `relative`
    /// (else through an extern path).
    Message { path: String, relative: bool },
}

/// The errors `method` declares, service defaults first; an error message naming the method
/// and the fault when they are not valid.
pub fn errors(
    pool: &DescriptorPool,
    service: &ServiceDescriptor,
    method: &MethodDescriptor,
    extern_paths: &[(String, String)],
) -> Result<Vec<ErrorCase>, String> {
    let method_extension = pool.get_extension_by_name(METHOD_EXTENSION);
    let service_extension = pool.get_extension_by_name(SERVICE_EXTENSION);
    if method_extension.is_none() && service_extension.is_none() {
        return Ok(Vec::new());
    }
    let label = format!("method `{}`", method.full_name());
    let mut declared = Vec::new();
    if let Some(extension) = &service_extension {
        declared.extend(declared_errors(&service.options(), extension));
    }
    if let Some(extension) = &method_extension {
        declared.extend(declared_errors(&method.options(), extension));
    }
    let package = service.package_name();
    let mut cases: Vec<ErrorCase> = Vec::with_capacity(declared.len());
    for (number, detail) in declared {
        let code = match usize::try_from(number).ok().and_then(|n| CODES.get(n)) {
            Some(&"OK") => return Err(format!("{label}: error code OK is not an error")),
            Some(code) => *code,
            None => {
                return Err(format!(
                    "{label}: error code {number} is not a gRPC status code"
                ));
            }
        };
        let detail = match detail.strip_prefix('.').unwrap_or(&detail) {
            "" => None,
            name => Some(
                resolve_detail(pool, name, package, extern_paths)
                    .map_err(|why| format!("{label}: error {code} with detail `{name}`: {why}"))?,
            ),
        };
        let same = |case: &ErrorCase| case.code == code && case.detail == detail;
        if cases.iter().any(same) {
            let what = detail
                .as_ref()
                .map_or(String::new(), |d| format!(" with detail `{}`", d.full_name));
            return Err(format!("{label}: error {code}{what} is declared twice"));
        }
        cases.push(ErrorCase {
            code,
            detail,
            variant: String::new(),
        });
    }
    name_variants(&mut cases).map_err(|clash| format!("{label}: {clash}"))?;
    Ok(cases)
}

/// The `error` entries of a `Contract` option, as (code number, detail name).
fn declared_errors(
    options: &DynamicMessage,
    extension: &ExtensionDescriptor,
) -> Vec<(i32, String)> {
    if !options.has_extension(extension) {
        return Vec::new();
    }
    let contract = options.get_extension(extension);
    let Value::Message(contract) = contract.as_ref() else {
        return Vec::new();
    };
    let Some(errors) = contract.get_field_by_name("error") else {
        return Vec::new();
    };
    let Value::List(errors) = errors.as_ref() else {
        return Vec::new();
    };
    errors
        .iter()
        .filter_map(|error| {
            let Value::Message(error) = error else {
                return None;
            };
            let code = match error.get_field_by_name("code").as_deref() {
                Some(Value::EnumNumber(code)) => *code,
                _ => 0,
            };
            let detail = match error.get_field_by_name("detail").as_deref() {
                Some(Value::String(detail)) => detail.clone(),
                _ => String::new(),
            };
            Some((code, detail))
        })
        .collect()
}

/// Variant names: the code in upper camel case, plus the detail's name when the code is declared
/// more than once with a detail.
fn name_variants(cases: &mut [ErrorCase]) -> Result<(), String> {
    let codes: Vec<&'static str> = cases.iter().map(|case| case.code).collect();
    for case in cases.iter_mut() {
        let base = case.tonic_code();
        let repeated = codes.iter().filter(|&&code| code == case.code).count() > 1;
        case.variant = match &case.detail {
            Some(detail) if repeated => {
                let short = detail.full_name.rsplit('.').next().unwrap_or_default();
                format!("{base}{}", names::upper_camel(short))
            }
            _ => base,
        };
    }
    for (i, case) in cases.iter().enumerate() {
        if let Some(other) = cases[..i]
            .iter()
            .find(|other| other.variant == case.variant)
        {
            return Err(format!(
                "errors {} and {} would both be the variant `{}`",
                describe(other),
                describe(case),
                case.variant
            ));
        }
    }
    Ok(())
}

fn describe(case: &ErrorCase) -> String {
    match &case.detail {
        Some(detail) => format!("{} with `{}`", case.code, detail.full_name),
        None => case.code.to_owned(),
    }
}

fn resolve_detail(
    pool: &DescriptorPool,
    name: &str,
    package: &str,
    extern_paths: &[(String, String)],
) -> Result<Detail, String> {
    if let Some(standard) = name
        .strip_prefix("google.rpc.")
        .and_then(|short| STANDARD_DETAILS.iter().find(|s| **s == short))
    {
        return Ok(Detail {
            full_name: name.to_owned(),
            rust: DetailType::Standard(standard),
        });
    }
    let message = pool
        .get_message_by_name(name)
        .ok_or_else(|| "no such message in this compilation (is its file imported?)".to_owned())?;
    if message.is_map_entry() {
        return Err("a map entry is not a message of its own".to_owned());
    }
    Ok(Detail {
        full_name: name.to_owned(),
        rust: match covering_extern(&message, extern_paths) {
            Some(path) => {
                if syn::parse_str::<syn::Type>(&path).is_err() {
                    return Err(format!("its extern path gives `{path}`, not a Rust type"));
                }
                DetailType::Message {
                    path,
                    relative: false,
                }
            }
            None => DetailType::Message {
                path: relative_path(&message, package),
                relative: true,
            },
        },
    })
}

/// The Rust path of `message` through the extern path that covers it (the longest), as
/// prost-build writes it; `None` when it is generated here.
fn covering_extern(
    message: &MessageDescriptor,
    extern_paths: &[(String, String)],
) -> Option<String> {
    let dotted = format!(".{}", message.full_name());
    let (proto, rust) = extern_paths
        .iter()
        .filter(|(proto, _)| {
            dotted == *proto
                || dotted
                    .strip_prefix(proto.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
        })
        .max_by_key(|(proto, _)| proto.len())?;
    let rest: Vec<&str> = dotted[proto.len()..]
        .split('.')
        .filter(|s| !s.is_empty())
        .collect();
    let mut path = rust.clone();
    for (i, segment) in rest.iter().enumerate() {
        path.push_str("::");
        if i + 1 == rest.len() {
            path.push_str(&names::upper_camel(segment));
        } else {
            path.push_str(&names::snake(segment));
        }
    }
    Some(path)
}

/// The Rust path of `message` from the module of `package`, as prost-build writes it: `super::`
/// up to the common module, then down.
fn relative_path(message: &MessageDescriptor, package: &str) -> String {
    let mut target: Vec<String> = message
        .package_name()
        .split('.')
        .filter(|s| !s.is_empty())
        .map(names::snake)
        .collect();
    let mut parents = Vec::new();
    let mut parent = message.parent_message();
    while let Some(outer) = parent {
        parents.push(names::snake(outer.name()));
        parent = outer.parent_message();
    }
    target.extend(parents.into_iter().rev());
    target.push(names::upper_camel(message.name()));
    let from: Vec<String> = package
        .split('.')
        .filter(|s| !s.is_empty())
        .map(names::snake)
        .collect();
    let common = from
        .iter()
        .zip(&target)
        .take_while(|(a, b)| a == b)
        .count()
        .min(target.len() - 1);
    let mut path: Vec<String> =
        std::iter::repeat_n("super".to_owned(), from.len() - common).collect();
    path.extend(target[common..].iter().cloned());
    path.join("::")
}

/// Every message prost-build writes for the files `names` (nested ones too, map entries and
/// extern-path types not), with its Rust path from the package module.
pub fn package_messages(
    pool: &DescriptorPool,
    names: &[&str],
    extern_paths: &[(String, String)],
) -> Vec<(String, String)> {
    let mut messages = Vec::new();
    for name in names {
        let Some(file) = pool.get_file_by_name(name) else {
            continue;
        };
        let mut pending: Vec<MessageDescriptor> = file.messages().collect();
        pending.reverse();
        while let Some(message) = pending.pop() {
            if message.is_map_entry() {
                continue;
            }
            if covering_extern(&message, extern_paths).is_none() {
                let path = relative_path(&message, file.package_name());
                messages.push((message.full_name().to_owned(), path));
            }
            let mut children: Vec<MessageDescriptor> = message.child_messages().collect();
            children.reverse();
            pending.extend(children);
        }
    }
    messages
}
