//! The small model the generator works from: services and methods with their Rust names, types,
//! kinds and options, built once from prost-build's view (which resolves message types to Rust
//! paths) and the descriptor pool (which keeps every option, custom ones included).

use prost_build::Comments;
use prost_reflect::DescriptorPool;
use prost_types::method_options::IdempotencyLevel;

use crate::contract::{self, Contract, Sections};
use crate::error::Error;
use crate::names::{self, MethodNames, ServiceNames};

/// One service, as generated.
#[derive(Debug)]
pub struct Service {
    /// Fully qualified name, e.g. `greeter.v1.Greeter`.
    pub full_name: String,
    pub names: ServiceNames,
    pub comments: Comments,
    pub deprecated: bool,
    pub methods: Vec<Method>,
    /// The metadata every method declares (`(greeter.defaults)`).
    pub defaults: Sections,
}

/// One method, as generated.
#[derive(Debug)]
pub struct Method {
    /// Name as written in the proto, e.g. `SayHello`.
    pub proto_name: String,
    pub names: MethodNames,
    pub comments: Comments,
    /// Rust type of the request message, relative to the package module (`()` for
    /// `google.protobuf.Empty`).
    pub input: syn::Type,
    /// Rust type of the response message, relative to the package module.
    pub output: syn::Type,
    /// Proto full name of the request message, e.g. `greeter.v1.HelloRequest`.
    pub input_proto: String,
    /// Proto full name of the response message.
    pub output_proto: String,
    pub client_streaming: bool,
    pub server_streaming: bool,
    pub idempotency: Idempotency,
    pub deprecated: bool,
    /// The metadata and errors it declares (`(greeter.contract)`, service defaults merged in).
    pub contract: Contract,
}

/// The `idempotency_level` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    Unknown,
    NoSideEffects,
    Idempotent,
}

impl Service {
    /// Builds the model of one service that prost-build reported.
    pub fn new(
        service: prost_build::Service,
        pool: &DescriptorPool,
        extern_paths: &[(String, String)],
    ) -> Result<Self, Error> {
        let full_name = if service.package.is_empty() {
            service.proto_name.clone()
        } else {
            format!("{}.{}", service.package, service.proto_name)
        };
        let descriptor = pool.get_service_by_name(&full_name).ok_or_else(|| {
            Error::Descriptors(format!(
                "service `{full_name}` is not in the descriptor pool"
            ))
        })?;
        let file = descriptor.parent_file().name().to_owned();
        let unsupported = |message| Error::Unsupported {
            file: file.clone(),
            message,
        };
        let defaults = contract::defaults(pool, &descriptor, extern_paths).map_err(unsupported)?;
        let method_names =
            names::method_names(service.methods.iter().map(|m| m.proto_name.as_str()));
        let methods = service
            .methods
            .into_iter()
            .zip(method_names)
            .map(|(method, names)| {
                let contract = descriptor
                    .methods()
                    .find(|m| m.name() == method.proto_name)
                    .map(|m| {
                        contract::method_contract(pool, &defaults, &descriptor, &m, extern_paths)
                    })
                    .transpose()
                    .map_err(unsupported)?
                    .unwrap_or_default();
                Method::new(method, names, &file, &full_name, contract)
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            names: ServiceNames::new(&service.proto_name),
            deprecated: service.options.deprecated(),
            comments: service.comments,
            full_name,
            methods,
            defaults: defaults.fields,
        })
    }

    /// The HTTP/2 path of a method of this service.
    pub fn path(&self, method: &Method) -> String {
        format!("/{}/{}", self.full_name, method.proto_name)
    }

    /// Whether anything generated for this service carries `#[deprecated]`.
    pub fn has_deprecated(&self) -> bool {
        self.deprecated || self.methods.iter().any(|m| m.deprecated)
    }
}

/// A type name as descriptors write it (`.greeter.v1.HelloRequest`) without the leading dot.
fn full_name(proto_type: &str) -> String {
    proto_type
        .strip_prefix('.')
        .unwrap_or(proto_type)
        .to_owned()
}

impl Method {
    /// The `StreamingKind` variant of the runtime: `Unary`, `ServerStreaming`, …
    pub fn streaming_kind(&self) -> &'static str {
        match (self.client_streaming, self.server_streaming) {
            (false, false) => "Unary",
            (false, true) => "ServerStreaming",
            (true, false) => "ClientStreaming",
            (true, true) => "BidiStreaming",
        }
    }

    /// The function of the runtime's `ServerCore` and `ClientCore` that runs a call of this
    /// streaming kind: `unary`, `server_streaming`, `client_streaming` or `streaming`.
    pub fn core_call(&self) -> &'static str {
        match (self.client_streaming, self.server_streaming) {
            (false, false) => "unary",
            (false, true) => "server_streaming",
            (true, false) => "client_streaming",
            (true, true) => "streaming",
        }
    }

    fn new(
        method: prost_build::Method,
        names: MethodNames,
        file: &str,
        service: &str,
        contract: Contract,
    ) -> Result<Self, Error> {
        let rust_path = |rust_type: &str| {
            syn::parse_str::<syn::Type>(rust_type).map_err(|e| Error::Unsupported {
                file: file.to_owned(),
                message: format!(
                    "method `{service}.{}`: message type `{rust_type}` is not a Rust type: {e}",
                    method.proto_name
                ),
            })
        };
        let idempotency = match method.options.idempotency_level() {
            IdempotencyLevel::IdempotencyUnknown => Idempotency::Unknown,
            IdempotencyLevel::NoSideEffects => Idempotency::NoSideEffects,
            IdempotencyLevel::Idempotent => Idempotency::Idempotent,
        };
        Ok(Self {
            input: rust_path(&method.input_type)?,
            output: rust_path(&method.output_type)?,
            input_proto: full_name(&method.input_proto_type),
            output_proto: full_name(&method.output_proto_type),
            deprecated: method.options.deprecated(),
            client_streaming: method.client_streaming,
            server_streaming: method.server_streaming,
            proto_name: method.proto_name,
            comments: method.comments,
            names,
            idempotency,
            contract,
        })
    }
}
