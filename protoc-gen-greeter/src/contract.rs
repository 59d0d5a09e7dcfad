//! Per-method contracts declared in the proto with `(greeter.contract)` on a method and
//! `(greeter.defaults)` on a service (`greeter/options.proto`): read from the descriptor pool,
//! checked, and resolved to Rust types.

use prost_reflect::{
    DescriptorPool, DynamicMessage, EnumDescriptor, ExtensionDescriptor, MessageDescriptor,
    MethodDescriptor, ServiceDescriptor, Value,
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

/// What a method declares: its metadata and its errors, service defaults merged in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contract {
    pub fields: Sections,
    pub errors: Vec<ErrorCase>,
}

impl Contract {
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.errors.is_empty()
    }
}

/// Declared metadata, by where it travels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sections {
    /// Client to server, with the request.
    pub request: Vec<Field>,
    /// Server to client, in the response headers.
    pub header: Vec<Field>,
    /// Server to client, in the response trailers.
    pub trailer: Vec<Field>,
}

impl Sections {
    pub fn is_empty(&self) -> bool {
        self.request.is_empty() && self.header.is_empty() && self.trailer.is_empty()
    }

    pub fn section(&self, section: Section) -> &[Field] {
        match section {
            Section::Request => &self.request,
            Section::Header => &self.header,
            Section::Trailer => &self.trailer,
        }
    }

    /// Each section with its fields.
    pub fn named(&self) -> [(Section, &[Field]); 3] {
        [
            (Section::Request, &self.request),
            (Section::Header, &self.header),
            (Section::Trailer, &self.trailer),
        ]
    }
}

/// Where declared metadata travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Request,
    Header,
    Trailer,
}

impl Section {
    /// The generated struct.
    pub fn struct_name(self) -> &'static str {
        match self {
            Self::Request => "RequestMetadata",
            Self::Header => "Header",
            Self::Trailer => "Trailer",
        }
    }

    /// The `Contract` field that declares it.
    pub fn option_name(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Header => "header",
            Self::Trailer => "trailer",
        }
    }
}

/// One declared metadata key.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub key: String,
    /// The Rust field: the key without `-bin`, in snake case.
    pub name: String,
    pub ty: FieldType,
    pub required: bool,
    pub repeated: bool,
    pub doc: String,
}

/// The value type of a metadata key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    String,
    Int64,
    Uint64,
    Bool,
    Double,
    Bytes,
    Duration,
    Timestamp,
    Enum(TypeRef),
    Message(TypeRef),
}

impl FieldType {
    /// The `greeter.Type` value name.
    pub fn proto_name(&self) -> &'static str {
        match self {
            Self::String => "STRING",
            Self::Int64 => "INT64",
            Self::Uint64 => "UINT64",
            Self::Bool => "BOOL",
            Self::Double => "DOUBLE",
            Self::Bytes => "BYTES",
            Self::Duration => "DURATION",
            Self::Timestamp => "TIMESTAMP",
            Self::Enum(_) => "ENUM",
            Self::Message(_) => "MESSAGE",
        }
    }

    pub fn is_binary(&self) -> bool {
        matches!(self, Self::Bytes | Self::Message(_))
    }
}

/// A user's enum or message, by proto name and Rust path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeRef {
    pub full_name: String,
    /// From the package module when `relative`, else through an extern path.
    pub path: String,
    pub relative: bool,
}

/// A service's `(greeter.defaults)`, read once for all its methods.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    pub fields: Sections,
    /// Checked with each method's own, whose variant names they share.
    errors: Vec<(i32, String)>,
    method_extension: Option<ExtensionDescriptor>,
}

/// The defaults `service` declares; an error message naming the service and the fault when they
/// are not valid.
pub fn defaults(
    pool: &DescriptorPool,
    service: &ServiceDescriptor,
    extern_paths: &[(String, String)],
) -> Result<Defaults, String> {
    let method_extension = pool.get_extension_by_name(METHOD_EXTENSION);
    let Some(contract) = pool
        .get_extension_by_name(SERVICE_EXTENSION)
        .and_then(|extension| contract_option(&service.options(), &extension))
    else {
        return Ok(Defaults {
            method_extension,
            ..Defaults::default()
        });
    };
    let label = format!("service `{}` (greeter.defaults)", service.full_name());
    let package = service.package_name();
    let fields = declared_sections(pool, &contract, &label, package, extern_paths)?;
    check_all_names(&fields, &label)?;
    Ok(Defaults {
        fields,
        errors: declared_errors(&contract),
        method_extension,
    })
}

/// Each section's keys make distinct Rust fields.
fn check_all_names(fields: &Sections, label: &str) -> Result<(), String> {
    for (section, list) in fields.named() {
        check_names(list).map_err(|clash| format!("{label}: {} {clash}", section.option_name()))?;
    }
    Ok(())
}

/// What `method` declares, `defaults` merged in; an error message naming the method and the
/// fault when it is not valid.
pub fn method_contract(
    pool: &DescriptorPool,
    defaults: &Defaults,
    service: &ServiceDescriptor,
    method: &MethodDescriptor,
    extern_paths: &[(String, String)],
) -> Result<Contract, String> {
    let own = defaults
        .method_extension
        .as_ref()
        .and_then(|extension| contract_option(&method.options(), extension));
    if own.is_none() && defaults.fields.is_empty() && defaults.errors.is_empty() {
        return Ok(Contract::default());
    }
    let label = format!("method `{}`", method.full_name());
    let package = service.package_name();
    let mut fields = defaults.fields.clone();
    let mut declared = defaults.errors.clone();
    if let Some(own) = &own {
        let mine = declared_sections(pool, own, &label, package, extern_paths)?;
        merge(&mut fields.request, mine.request);
        merge(&mut fields.header, mine.header);
        merge(&mut fields.trailer, mine.trailer);
        declared.extend(declared_errors(own));
    }
    check_all_names(&fields, &label)?;
    Ok(Contract {
        fields,
        errors: error_cases(pool, declared, &label, package, extern_paths)?,
    })
}

/// Adds a method's fields to the defaults: one with a default's key takes its place.
fn merge(fields: &mut Vec<Field>, own: Vec<Field>) {
    for field in own {
        match fields.iter_mut().find(|f| f.key == field.key) {
            Some(default) => *default = field,
            None => fields.push(field),
        }
    }
}

/// Two keys that would be one Rust field.
fn check_names(fields: &[Field]) -> Result<(), String> {
    for (i, field) in fields.iter().enumerate() {
        if let Some(other) = fields[..i].iter().find(|other| other.name == field.name) {
            return Err(format!(
                "keys `{}` and `{}` would both be the field `{}`",
                other.key, field.key, field.name
            ));
        }
    }
    Ok(())
}

/// The `Contract` option set on `options`, if it is.
fn contract_option(
    options: &DynamicMessage,
    extension: &ExtensionDescriptor,
) -> Option<DynamicMessage> {
    if !options.has_extension(extension) {
        return None;
    }
    match options.get_extension(extension).as_ref() {
        Value::Message(contract) => Some(contract.clone()),
        _ => None,
    }
}

/// The messages of a repeated message field of `message`.
fn messages(message: &DynamicMessage, field: &str) -> Vec<DynamicMessage> {
    match message.get_field_by_name(field).as_deref() {
        Some(Value::List(items)) => items
            .iter()
            .filter_map(|item| match item {
                Value::Message(message) => Some(message.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn string_field(message: &DynamicMessage, field: &str) -> String {
    match message.get_field_by_name(field).as_deref() {
        Some(Value::String(text)) => text.clone(),
        _ => String::new(),
    }
}

fn bool_field(message: &DynamicMessage, field: &str) -> bool {
    matches!(
        message.get_field_by_name(field).as_deref(),
        Some(Value::Bool(true))
    )
}

fn enum_field(message: &DynamicMessage, field: &str) -> i32 {
    match message.get_field_by_name(field).as_deref() {
        Some(Value::EnumNumber(number)) => *number,
        _ => 0,
    }
}

/// The three metadata sections of a `Contract`, each checked.
fn declared_sections(
    pool: &DescriptorPool,
    contract: &DynamicMessage,
    label: &str,
    package: &str,
    extern_paths: &[(String, String)],
) -> Result<Sections, String> {
    let section = |section: Section| -> Result<Vec<Field>, String> {
        let name = section.option_name();
        let mut fields: Vec<Field> = Vec::new();
        for declared in &messages(contract, name) {
            let field = declared_field(pool, declared, package, extern_paths)
                .map_err(|fault| format!("{label}: {name} {fault}"))?;
            if fields.iter().any(|f| f.key == field.key) {
                return Err(format!(
                    "{label}: {name} key `{}` is declared twice",
                    field.key
                ));
            }
            fields.push(field);
        }
        Ok(fields)
    };
    Ok(Sections {
        request: section(Section::Request)?,
        header: section(Section::Header)?,
        trailer: section(Section::Trailer)?,
    })
}

/// Metadata types by `greeter.Type` number (0 is unset).
const TYPES: &[&str] = &[
    "TYPE_UNSPECIFIED",
    "STRING",
    "INT64",
    "UINT64",
    "BOOL",
    "DOUBLE",
    "BYTES",
    "DURATION",
    "TIMESTAMP",
    "ENUM",
    "MESSAGE",
];

/// Names HTTP/2 forbids or gRPC writes itself, as the runtime's keys refuse them.
const RESERVED_KEYS: &[&str] = &[
    "connection",
    "content-type",
    "host",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
    "user-agent",
];

/// One `Metadata` entry, checked; the fault starts with the key.
fn declared_field(
    pool: &DescriptorPool,
    declared: &DynamicMessage,
    package: &str,
    extern_paths: &[(String, String)],
) -> Result<Field, String> {
    let key = string_field(declared, "key");
    if key.is_empty() {
        return Err("metadata has no key".to_owned());
    }
    let fault = |why: String| format!("key `{key}`: {why}");
    if key.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(fault("metadata keys are lower case".to_owned()));
    }
    if let Some(bad) = key
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-' | '_' | '.'))
    {
        return Err(fault(format!(
            "{bad:?} is not allowed (keys hold only a-z, 0-9, `-`, `_` and `.`)"
        )));
    }
    if key.starts_with("grpc-") {
        return Err(fault(
            "keys starting with `grpc-` are reserved for gRPC".to_owned(),
        ));
    }
    if RESERVED_KEYS.contains(&key.as_str()) {
        return Err(fault("HTTP/2 or gRPC reserves this key".to_owned()));
    }
    let number = enum_field(declared, "type");
    let type_name = string_field(declared, "type_name");
    let type_name = type_name.strip_prefix('.').unwrap_or(&type_name);
    let ty = match usize::try_from(number).ok().and_then(|n| TYPES.get(n)) {
        None => return Err(fault(format!("type {number} is not a metadata type"))),
        Some(&"TYPE_UNSPECIFIED") => return Err(fault("no type".to_owned())),
        Some(&name @ ("ENUM" | "MESSAGE")) => {
            if type_name.is_empty() {
                return Err(fault(format!("type {name} needs a `type_name`")));
            }
            if name == "ENUM" {
                let found = pool.get_enum_by_name(type_name).ok_or_else(|| {
                    fault(format!(
                        "no enum `{type_name}` in this compilation (is its file imported?)"
                    ))
                })?;
                FieldType::Enum(enum_ref(&found, package, extern_paths).map_err(fault)?)
            } else {
                let found = pool.get_message_by_name(type_name).ok_or_else(|| {
                    fault(format!(
                        "no message `{type_name}` in this compilation (is its file imported?)"
                    ))
                })?;
                if found.is_map_entry() {
                    return Err(fault(format!(
                        "`{type_name}` is a map entry, not a message"
                    )));
                }
                FieldType::Message(message_ref(&found, package, extern_paths).map_err(fault)?)
            }
        }
        Some(name) => {
            if !type_name.is_empty() {
                return Err(fault(format!(
                    "`type_name` is only for ENUM and MESSAGE, not {name}"
                )));
            }
            match *name {
                "STRING" => FieldType::String,
                "INT64" => FieldType::Int64,
                "UINT64" => FieldType::Uint64,
                "BOOL" => FieldType::Bool,
                "DOUBLE" => FieldType::Double,
                "BYTES" => FieldType::Bytes,
                "DURATION" => FieldType::Duration,
                _ => FieldType::Timestamp,
            }
        }
    };
    let bin = key.ends_with("-bin");
    if ty.is_binary() && !bin {
        return Err(fault(format!(
            "a {} value needs a key ending in `-bin`",
            ty.proto_name()
        )));
    }
    if bin && !ty.is_binary() {
        return Err(fault(format!(
            "a key ending in `-bin` holds BYTES or MESSAGE values, not {}",
            ty.proto_name()
        )));
    }
    let base = key.strip_suffix("-bin").unwrap_or(&key);
    Ok(Field {
        name: names::sanitize(&names::snake(base)),
        required: bool_field(declared, "required"),
        repeated: bool_field(declared, "repeated"),
        doc: string_field(declared, "doc"),
        ty,
        key,
    })
}

fn message_ref(
    message: &MessageDescriptor,
    package: &str,
    extern_paths: &[(String, String)],
) -> Result<TypeRef, String> {
    type_ref(
        message.full_name(),
        message.package_name(),
        message.parent_message(),
        message.name(),
        package,
        extern_paths,
    )
}

fn enum_ref(
    found: &EnumDescriptor,
    package: &str,
    extern_paths: &[(String, String)],
) -> Result<TypeRef, String> {
    type_ref(
        found.full_name(),
        found.package_name(),
        found.parent_message(),
        found.name(),
        package,
        extern_paths,
    )
}

fn type_ref(
    full_name: &str,
    type_package: &str,
    parent: Option<MessageDescriptor>,
    name: &str,
    package: &str,
    extern_paths: &[(String, String)],
) -> Result<TypeRef, String> {
    match covering_extern(full_name, extern_paths) {
        Some(path) => {
            if syn::parse_str::<syn::Type>(&path).is_err() {
                return Err(format!("its extern path gives `{path}`, not a Rust type"));
            }
            Ok(TypeRef {
                full_name: full_name.to_owned(),
                path,
                relative: false,
            })
        }
        None => Ok(TypeRef {
            full_name: full_name.to_owned(),
            path: relative_path(type_package, parent, name, package),
            relative: true,
        }),
    }
}

/// The declared errors, checked and named.
fn error_cases(
    pool: &DescriptorPool,
    declared: Vec<(i32, String)>,
    label: &str,
    package: &str,
    extern_paths: &[(String, String)],
) -> Result<Vec<ErrorCase>, String> {
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

/// The `error` entries of a `Contract`, as (code number, detail name).
fn declared_errors(contract: &DynamicMessage) -> Vec<(i32, String)> {
    messages(contract, "error")
        .iter()
        .map(|error| (enum_field(error, "code"), string_field(error, "detail")))
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
    let TypeRef { path, relative, .. } = message_ref(&message, package, extern_paths)?;
    Ok(Detail {
        full_name: name.to_owned(),
        rust: DetailType::Message { path, relative },
    })
}

/// The Rust path of the message or enum `full_name` through the extern path that covers it (the longest), as
/// prost-build writes it; `None` when it is generated here.
fn covering_extern(full_name: &str, extern_paths: &[(String, String)]) -> Option<String> {
    let dotted = format!(".{full_name}");
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
fn relative_path(
    type_package: &str,
    parent: Option<MessageDescriptor>,
    name: &str,
    package: &str,
) -> String {
    let mut target: Vec<String> = type_package
        .split('.')
        .filter(|s| !s.is_empty())
        .map(names::snake)
        .collect();
    let mut parents = Vec::new();
    let mut parent = parent;
    while let Some(outer) = parent {
        parents.push(names::snake(outer.name()));
        parent = outer.parent_message();
    }
    target.extend(parents.into_iter().rev());
    target.push(names::upper_camel(name));
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

/// The Rust path of a message from its own package's module: its outer messages' modules, then
/// its name (what [`relative_path`] gives when both packages are the same, without spelling
/// the package out).
fn path_in_package(message: &MessageDescriptor) -> String {
    let mut path = names::upper_camel(message.name());
    let mut parent = message.parent_message();
    while let Some(outer) = parent {
        path.insert_str(0, "::");
        path.insert_str(0, &names::snake(outer.name()));
        parent = outer.parent_message();
    }
    path
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
            if covering_extern(message.full_name(), extern_paths).is_none() {
                messages.push((message.full_name().to_owned(), path_in_package(&message)));
            }
            let mut children: Vec<MessageDescriptor> = message.child_messages().collect();
            children.reverse();
            pending.extend(children);
        }
    }
    messages
}
