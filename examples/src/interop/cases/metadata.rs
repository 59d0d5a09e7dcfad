//! `custom_metadata`: request metadata, text and binary, echoed as a response header and a
//! trailer, on a unary and on a bidi call.

use greeter_runtime::metadata::ResponseExt;
use tonic::Request;
use tonic::metadata::MetadataMap;
use tonic::transport::Channel;

use super::check::{self, Failure, ensure};
use super::unary::{LARGE_REQUEST, LARGE_RESPONSE, large_request};
use crate::interop::pb::test_service_client::TestServiceClient;
use crate::interop::{ECHO_INITIAL, ECHO_TRAILING};

type Client = TestServiceClient<Channel>;

/// The text value sent for echo as a response header.
const INITIAL_VALUE: &str = "test_initial_metadata_value";
/// The bytes sent for echo as a trailer.
const TRAILING_VALUE: [u8; 3] = [0xab, 0xab, 0xab];

/// `message` with the metadata the server must echo.
fn with_echo_metadata<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    let metadata = request.metadata_mut();
    ECHO_INITIAL.insert(metadata, &INITIAL_VALUE.to_owned());
    ECHO_TRAILING.insert(metadata, &TRAILING_VALUE.to_vec());
    request
}

/// Checks that the header and the trailer came back as sent, each exactly once, and each where
/// it belongs.
fn echoed(what: &str, headers: &MetadataMap, trailers: &MetadataMap) -> Result<(), Failure> {
    let header = ECHO_INITIAL
        .get(headers)
        .map_err(|error| Failure::new(format!("{what}'s response headers: {error}")))?;
    ensure(header.as_deref() == Some(INITIAL_VALUE), || {
        format!(
            "{what}'s response headers carry {} {header:?}, want {INITIAL_VALUE:?}",
            ECHO_INITIAL.name()
        )
    })?;
    let trailer = ECHO_TRAILING
        .get(trailers)
        .map_err(|error| Failure::new(format!("{what}'s trailers: {error}")))?;
    ensure(trailer.as_deref() == Some(&TRAILING_VALUE[..]), || {
        format!(
            "{what}'s trailers carry {} {}, want {}",
            ECHO_TRAILING.name(),
            hex(trailer.as_deref()),
            hex(Some(&TRAILING_VALUE)),
        )
    })
}

/// Bytes as `0x…`, or `nothing` when absent.
fn hex(bytes: Option<&[u8]>) -> String {
    match bytes {
        None => "nothing".to_owned(),
        Some(bytes) => bytes.iter().fold("0x".to_owned(), |mut text, byte| {
            text.push_str(&format!("{byte:02x}"));
            text
        }),
    }
}

pub(super) async fn custom_metadata(client: &mut Client) -> Result<(), Failure> {
    let response = client
        .unary_call(with_echo_metadata(large_request()))
        .await
        .map_err(|status| Failure::call("UnaryCall", &status))?;
    // The generated client keeps a unary call's trailers apart from its headers.
    let trailers = response.trailers().unwrap_or_default();
    echoed("UnaryCall", response.metadata(), &trailers)?;
    check::payload(
        "the UnaryCall response",
        response.get_ref().payload.as_ref(),
        check::size_of(LARGE_RESPONSE),
    )?;

    let request = check::output_request(&[LARGE_RESPONSE], Some(LARGE_REQUEST));
    let call = client
        .full_duplex_call(with_echo_metadata(tokio_stream::iter([request])))
        .await;
    let collected = check::collect(call)
        .await
        .map_err(|status| Failure::call("FullDuplexCall", &status))?;
    echoed("FullDuplexCall", &collected.headers, &collected.trailers)?;
    check::output_sizes("FullDuplexCall", &collected.messages, &[LARGE_RESPONSE])
}
