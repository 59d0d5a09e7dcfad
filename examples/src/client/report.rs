//! Human-readable lines for what a call brought back: metadata, statuses and their details.

use crate::pb::greeter_contract::say_hello;
use greeter_runtime::status::{
    Any, BadRequest, Details, ErrorInfo, LocalizedMessage, QuotaFailure, unpack,
};
use tonic::metadata::{KeyAndValueRef, MetadataMap};
use tonic::{Code, Status};

/// The canonical name of a gRPC status code, as in the gRPC spec (`RESOURCE_EXHAUSTED`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Whether a key is transport plumbing (`content-type`, `grpc-status`, …) rather than metadata
/// an application sent.
fn is_protocol_key(key: &str) -> bool {
    key.starts_with("grpc-") || matches!(key, "content-type" | "date" | "te" | "user-agent")
}

/// One line per application metadata entry, such as `header location: BeiJing`; `kind` is the
/// word that starts each line (`header`, `trailer`). Binary values are shown as their length.
pub fn describe_metadata(kind: &str, metadata: &MetadataMap) -> Vec<String> {
    metadata
        .iter()
        .filter_map(|entry| match entry {
            KeyAndValueRef::Ascii(key, value) if !is_protocol_key(key.as_str()) => {
                let value = value.to_str().unwrap_or("<not printable>");
                Some(format!("{kind} {key}: {value}"))
            }
            KeyAndValueRef::Binary(key, value) if !is_protocol_key(key.as_str()) => {
                let shown = value.to_bytes().map_or_else(
                    |_| "<bad base64>".to_owned(),
                    |b| format!("<{} bytes>", b.len()),
                );
                Some(format!("{kind} {key}: {shown}"))
            }
            _ => None,
        })
        .collect()
}

/// The status of a failed call: `error: CODE: message`, then the local cause of a transport
/// failure if there is one, then one line per decoded google.rpc detail (say `QuotaFailure violation name:world: …`), then its trailers.
pub fn describe_status(status: &Status) -> Vec<String> {
    let mut lines = vec![format!(
        "error: {}: {}",
        code_name(status.code()),
        status.message()
    )];
    // A status made by the client's transport keeps the cause apart ("transport error" alone
    // says nothing about a TLS server reached in plaintext).
    if let Some(source) = std::error::Error::source(status) {
        lines.push(format!("  cause: {}", crate::error_chain(source)));
    }
    match Details::of(status) {
        Ok(details) => lines.extend(details.iter().flat_map(describe_detail)),
        Err(error) => lines.push(format!("  details: cannot decode: {error}")),
    }
    lines.extend(
        describe_metadata("trailer", status.metadata())
            .into_iter()
            .map(|line| format!("  {line}")),
    );
    lines
}

/// A failed SayHello: the error its contract declares (RESOURCE_EXHAUSTED with a QuotaFailure)
/// read through the generated `say_hello::Error`, any other status as [`describe_status`].
pub fn describe_say_hello_error(status: &Status) -> Vec<String> {
    match say_hello::Error::from_status(status) {
        say_hello::Error::ResourceExhausted { message, detail } => {
            let mut lines = vec![format!(
                "error: RESOURCE_EXHAUSTED (declared by SayHello): {message}"
            )];
            lines.extend(
                detail
                    .violations
                    .iter()
                    .map(|v| format!("  QuotaFailure violation {}: {}", v.subject, v.description)),
            );
            lines.extend(
                describe_metadata("trailer", status.metadata())
                    .into_iter()
                    .map(|line| format!("  {line}")),
            );
            lines
        }
        say_hello::Error::Other(status) => describe_status(&status),
    }
}

/// One line per standard detail entry; a detail of another type by its type URL and size.
fn describe_detail(any: &Any) -> Vec<String> {
    if let Some(Ok(failure)) = unpack::<QuotaFailure>(any) {
        return failure
            .violations
            .iter()
            .map(|v| format!("  QuotaFailure violation {}: {}", v.subject, v.description))
            .collect();
    }
    if let Some(Ok(bad_request)) = unpack::<BadRequest>(any) {
        return bad_request
            .field_violations
            .iter()
            .map(|v| format!("  BadRequest field {}: {}", v.field, v.description))
            .collect();
    }
    if let Some(Ok(info)) = unpack::<ErrorInfo>(any) {
        return vec![format!(
            "  ErrorInfo reason {} (domain {}) {:?}",
            info.reason, info.domain, info.metadata
        )];
    }
    if let Some(Ok(message)) = unpack::<LocalizedMessage>(any) {
        return vec![format!(
            "  LocalizedMessage [{}] {}",
            message.locale, message.message
        )];
    }
    vec![format!(
        "  detail {} ({} bytes)",
        any.type_url,
        any.value.len()
    )]
}

#[cfg(test)]
mod tests {
    use greeter_runtime::status::quota_failure::Violation;

    use super::*;

    #[test]
    fn statuses_show_code_message_and_details() {
        let status = Details::new()
            .with(QuotaFailure {
                violations: vec![Violation {
                    subject: "name:world".into(),
                    description: "1 call per name".into(),
                    ..Default::default()
                }],
            })
            .with_any(Any {
                type_url: "type.googleapis.com/acme.v1.Mystery".into(),
                value: vec![1, 2, 3],
            })
            .into_status(Code::ResourceExhausted, "Request limit exceeded.");
        assert_eq!(
            describe_status(&status),
            [
                "error: RESOURCE_EXHAUSTED: Request limit exceeded.",
                "  QuotaFailure violation name:world: 1 call per name",
                "  detail type.googleapis.com/acme.v1.Mystery (3 bytes)",
            ]
        );
    }

    #[test]
    fn say_hello_errors_are_read_through_the_contract() {
        let status: Status = say_hello::Error::ResourceExhausted {
            message: "Request limit exceeded.".into(),
            detail: QuotaFailure {
                violations: vec![Violation {
                    subject: "name:world".into(),
                    description: "1 call per name".into(),
                    ..Default::default()
                }],
            },
        }
        .into();
        assert_eq!(
            describe_say_hello_error(&status),
            [
                "error: RESOURCE_EXHAUSTED (declared by SayHello): Request limit exceeded.",
                "  QuotaFailure violation name:world: 1 call per name",
            ]
        );
        // Without the declared detail it is any other status.
        let bare = Status::resource_exhausted("busy");
        assert_eq!(describe_say_hello_error(&bare), describe_status(&bare));
    }

    #[test]
    fn undecodable_details_are_reported_not_hidden() {
        let status = Status::with_details(Code::Internal, "boom", b"\xff\xff".to_vec().into());
        let lines = describe_status(&status);
        assert_eq!(lines[0], "error: INTERNAL: boom");
        assert!(
            lines[1].starts_with("  details: cannot decode"),
            "{lines:?}"
        );
    }

    #[test]
    fn metadata_skips_protocol_headers() {
        let mut metadata = MetadataMap::new();
        metadata.insert("location", "BeiJing".parse().unwrap());
        metadata.insert("content-type", "application/grpc".parse().unwrap());
        metadata.insert("grpc-status", "0".parse().unwrap());
        metadata.insert_bin(
            "trace-bin",
            tonic::metadata::MetadataValue::from_bytes(b"abc"),
        );
        assert_eq!(
            describe_metadata("header", &metadata),
            ["header location: BeiJing", "header trace-bin: <3 bytes>"]
        );
    }
}
