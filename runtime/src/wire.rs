//! The names of the headers gRPC itself reads and writes, parsed once: a lookup by `&str` parses
//! and checks the name on every call, one by [`HeaderName`] only hashes it.

use tonic::codegen::http::HeaderName;

/// The final status code.
pub(crate) static GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
/// The status message, percent-encoded.
pub(crate) static GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
/// The status details: a `google.rpc.Status`, base64.
pub(crate) static GRPC_STATUS_DETAILS: HeaderName =
    HeaderName::from_static("grpc-status-details-bin");
/// The client's deadline, as a timeout.
pub(crate) static GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");
