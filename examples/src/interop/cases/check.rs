//! What the cases share: the failure type, the checks of payloads and statuses, and reading a
//! response stream to its end.

use std::fmt;

use tonic::metadata::MetadataMap;
use tonic::{Code, Response, Status, Streaming};

use crate::interop::pb::{self, Payload, PayloadType, ResponseParameters};

/// Why a case failed: what differed from what the spec wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(String);

impl Failure {
    /// A failure described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// `what` failed with `status` where the spec wants it to succeed.
    pub fn call(what: &str, status: &Status) -> Self {
        Self(format!("{what} failed: {}", describe(status)))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

/// `CODE: "message"`, the message quoted so that whitespace shows.
pub(super) fn describe(status: &Status) -> String {
    format!("{:?}: {:?}", status.code(), status.message())
}

/// Fails with `message` unless `condition` holds.
pub(super) fn ensure(condition: bool, message: impl FnOnce() -> String) -> Result<(), Failure> {
    match condition {
        true => Ok(()),
        false => Err(Failure::new(message())),
    }
}

/// Checks that `payload` is present, `COMPRESSABLE`, `size` bytes long and all zeros.
pub(super) fn payload(what: &str, payload: Option<&Payload>, size: usize) -> Result<(), Failure> {
    let payload = payload.ok_or_else(|| Failure::new(format!("{what} has no payload")))?;
    ensure(payload.r#type == PayloadType::Compressable as i32, || {
        format!(
            "{what} has payload type {}, want COMPRESSABLE (0)",
            payload.r#type
        )
    })?;
    let len = payload.body.len();
    ensure(len == size, || {
        format!("{what} has a payload of {len} bytes, want {size}")
    })?;
    match payload.body.iter().position(|&byte| byte != 0) {
        Some(at) => Err(Failure::new(format!(
            "{what} has a payload that is not all zeros (byte {at} is {:#04x})",
            payload.body[at]
        ))),
        None => Ok(()),
    }
}

/// Checks that `outcome` failed with `code` and, when given, exactly `message`.
pub(super) fn status<T>(
    what: &str,
    outcome: Result<T, Status>,
    code: Code,
    message: Option<&str>,
) -> Result<(), Failure> {
    let status = match outcome {
        Ok(_) => {
            return Err(Failure::new(format!(
                "{what} succeeded, want status {code:?}"
            )));
        }
        Err(status) => status,
    };
    ensure(status.code() == code, || {
        format!(
            "{what} ended with status {}, want code {code:?}",
            describe(&status)
        )
    })?;
    match message {
        Some(message) => ensure(status.message() == message, || {
            format!(
                "{what} ended with message {:?}, want {message:?}",
                status.message()
            )
        }),
        None => Ok(()),
    }
}

/// The request of a streaming output call: one response per size in `sizes`, and a payload
/// of `payload_size` zeros when given.
pub(super) fn output_request(
    sizes: &[i32],
    payload_size: Option<usize>,
) -> pb::StreamingOutputCallRequest {
    pb::StreamingOutputCallRequest {
        response_type: PayloadType::Compressable.into(),
        response_parameters: sizes
            .iter()
            .map(|&size| ResponseParameters {
                size,
                ..ResponseParameters::default()
            })
            .collect(),
        payload: payload_size.map(crate::interop::zeros),
        ..pb::StreamingOutputCallRequest::default()
    }
}

/// What a streaming response brought, read to its end.
#[derive(Debug)]
pub(super) struct Collected<T> {
    pub(super) headers: MetadataMap,
    pub(super) messages: Vec<T>,
    pub(super) trailers: MetadataMap,
}

/// Reads every message of a streaming response, then its trailers; the status it failed with
/// otherwise (at the call, or during the stream).
pub(super) async fn collect<T>(
    call: Result<Response<Streaming<T>>, Status>,
) -> Result<Collected<T>, Status> {
    let (headers, mut stream, _) = call?.into_parts();
    let mut messages = Vec::new();
    while let Some(message) = stream.message().await? {
        messages.push(message);
    }
    let trailers = stream.trailers().await?.unwrap_or_default();
    Ok(Collected {
        headers,
        messages,
        trailers,
    })
}

/// Checks that `responses` carry payloads of exactly `sizes`, in order.
pub(super) fn output_sizes(
    what: &str,
    responses: &[pb::StreamingOutputCallResponse],
    sizes: &[i32],
) -> Result<(), Failure> {
    ensure(responses.len() == sizes.len(), || {
        format!(
            "{what} brought {} responses, want {}",
            responses.len(),
            sizes.len()
        )
    })?;
    for (index, (response, &size)) in responses.iter().zip(sizes).enumerate() {
        let what = format!("{what}'s response {}", index + 1);
        payload(&what, response.payload.as_ref(), size_of(size))?;
    }
    Ok(())
}

/// A size from the spec's tables (all positive) as a length.
pub(super) fn size_of(size: i32) -> usize {
    usize::try_from(size).unwrap_or_default()
}
