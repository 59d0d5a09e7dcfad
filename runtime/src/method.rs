//! Static facts about one RPC method, emitted by the generator as a constant per method.

use std::fmt;

use tonic::metadata::MetadataMap;

use crate::metadata::MetadataError;

/// Reads a call's request metadata as its method's contract declares it; generated
/// `RequestMetadata::check` functions are of this type.
pub type RequestCheck = fn(&MetadataMap) -> Result<(), MetadataError>;

/// How messages flow in a method: the four gRPC call kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamingKind {
    /// One request, one response.
    Unary,
    /// One request, a stream of responses.
    ServerStreaming,
    /// A stream of requests, one response.
    ClientStreaming,
    /// Streams in both directions.
    BidiStreaming,
}

impl StreamingKind {
    /// Builds the kind from the two `stream` flags of a proto method.
    pub const fn from_flags(client_streaming: bool, server_streaming: bool) -> Self {
        match (client_streaming, server_streaming) {
            (false, false) => Self::Unary,
            (false, true) => Self::ServerStreaming,
            (true, false) => Self::ClientStreaming,
            (true, true) => Self::BidiStreaming,
        }
    }

    /// Whether the client sends a stream of messages.
    pub const fn is_client_streaming(self) -> bool {
        matches!(self, Self::ClientStreaming | Self::BidiStreaming)
    }

    /// Whether the server sends a stream of messages.
    pub const fn is_server_streaming(self) -> bool {
        matches!(self, Self::ServerStreaming | Self::BidiStreaming)
    }

    /// The name grpc-go and grpc-java use for this kind (`unary`, `server_streaming`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unary => "unary",
            Self::ServerStreaming => "server_streaming",
            Self::ClientStreaming => "client_streaming",
            Self::BidiStreaming => "bidi_streaming",
        }
    }
}

impl fmt::Display for StreamingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `idempotency_level` method option of the proto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Idempotency {
    /// Not declared: the method may have side effects.
    Unknown,
    /// `NO_SIDE_EFFECTS`: safe to retry and to cache.
    NoSideEffects,
    /// `IDEMPOTENT`: safe to retry.
    Idempotent,
}

/// Describes one RPC method; generated code holds one `const` of this type per method.
///
/// Two descriptions are equal when they describe the same method the same way; the request check
/// (a function) is not compared.
#[derive(Debug, Clone, Copy)]
pub struct MethodInfo {
    service: &'static str,
    method: &'static str,
    path: &'static str,
    kind: StreamingKind,
    idempotency: Idempotency,
    input_type: &'static str,
    output_type: &'static str,
    request_check: Option<RequestCheck>,
}

impl MethodInfo {
    /// Creates the description; generated code calls this in a `const`.
    pub const fn new(
        service: &'static str,
        method: &'static str,
        path: &'static str,
        kind: StreamingKind,
        idempotency: Idempotency,
    ) -> Self {
        Self {
            service,
            method,
            path,
            kind,
            idempotency,
            input_type: "",
            output_type: "",
            request_check: None,
        }
    }

    /// Has generated servers read every call's request metadata with `check` (after the head
    /// interceptors, before the body or the handler): a call it fails is answered
    /// INVALID_ARGUMENT naming the key. Generated constants set it for methods whose contract
    /// declares request metadata.
    pub const fn with_request_check(mut self, check: RequestCheck) -> Self {
        self.request_check = Some(check);
        self
    }

    /// Names the proto full names of the request and response message types (e.g.
    /// `greeter.v1.HelloRequest`), which interceptors see on every message. Generated constants
    /// always name them.
    pub const fn with_message_types(
        mut self,
        input_type: &'static str,
        output_type: &'static str,
    ) -> Self {
        self.input_type = input_type;
        self.output_type = output_type;
        self
    }

    /// Fully qualified service name, e.g. `greeter.v1.Greeter`.
    pub const fn service(&self) -> &'static str {
        self.service
    }

    /// Method name as written in the proto, e.g. `SayHello`.
    pub const fn method(&self) -> &'static str {
        self.method
    }

    /// HTTP/2 path of the method, e.g. `/greeter.v1.Greeter/SayHello`.
    pub const fn path(&self) -> &'static str {
        self.path
    }

    /// Which of the four call kinds the method is.
    pub const fn kind(&self) -> StreamingKind {
        self.kind
    }

    /// The method's declared idempotency level.
    pub const fn idempotency(&self) -> Idempotency {
        self.idempotency
    }

    /// Proto full name of the request message type; empty if the constant does not name it.
    pub const fn input_type(&self) -> &'static str {
        self.input_type
    }

    /// Proto full name of the response message type; empty if the constant does not name it.
    pub const fn output_type(&self) -> &'static str {
        self.output_type
    }

    /// The check of the request metadata its contract declares, if it declares any.
    pub const fn request_check(&self) -> Option<RequestCheck> {
        self.request_check
    }
}

impl MethodInfo {
    /// What equality and hashing compare.
    #[allow(clippy::type_complexity)]
    fn identity(
        &self,
    ) -> (
        &'static str,
        &'static str,
        &'static str,
        StreamingKind,
        Idempotency,
        &'static str,
        &'static str,
    ) {
        (
            self.service,
            self.method,
            self.path,
            self.kind,
            self.idempotency,
            self.input_type,
            self.output_type,
        )
    }
}

impl PartialEq for MethodInfo {
    fn eq(&self, other: &Self) -> bool {
        self.identity() == other.identity()
    }
}

impl Eq for MethodInfo {}

impl std::hash::Hash for MethodInfo {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.identity().hash(state);
    }
}

impl fmt::Display for MethodInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_stream_flags() {
        assert_eq!(
            StreamingKind::from_flags(false, false),
            StreamingKind::Unary
        );
        assert_eq!(
            StreamingKind::from_flags(false, true),
            StreamingKind::ServerStreaming
        );
        assert_eq!(
            StreamingKind::from_flags(true, false),
            StreamingKind::ClientStreaming
        );
        assert_eq!(
            StreamingKind::from_flags(true, true),
            StreamingKind::BidiStreaming
        );
        assert!(StreamingKind::BidiStreaming.is_client_streaming());
        assert!(!StreamingKind::ClientStreaming.is_server_streaming());
        assert_eq!(
            StreamingKind::ServerStreaming.to_string(),
            "server_streaming"
        );
    }
}
