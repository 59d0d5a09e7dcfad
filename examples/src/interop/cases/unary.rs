//! The unary cases: empty and large messages, echoed statuses, unimplemented methods.

use tonic::Code;
use tonic::transport::Channel;

use super::check::{self, Collected, Failure};
use crate::interop::pb::test_service_client::TestServiceClient;
use crate::interop::pb::unimplemented_service_client::UnimplementedServiceClient;
use crate::interop::pb::{EchoStatus, Empty, PayloadType, SimpleRequest};
use crate::interop::zeros;

type Client = TestServiceClient<Channel>;

/// The request size of `large_unary` (and `custom_metadata`).
pub(super) const LARGE_REQUEST: usize = 271_828;
/// The response size of `large_unary` (and `custom_metadata`).
pub(super) const LARGE_RESPONSE: i32 = 314_159;

/// The status `status_code_and_message` asks for.
const ECHOED_CODE: Code = Code::Unknown;
const ECHOED_MESSAGE: &str = "test status message";
/// The status message `special_status_message` asks for: whitespace, a BMP and a non-BMP
/// character, which the status must carry unchanged.
const SPECIAL_MESSAGE: &str = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";

/// The request of `large_unary`: 271828 zeros, asking for 314159.
pub(super) fn large_request() -> SimpleRequest {
    SimpleRequest {
        response_type: PayloadType::Compressable.into(),
        response_size: LARGE_RESPONSE,
        payload: Some(zeros(LARGE_REQUEST)),
        ..SimpleRequest::default()
    }
}

/// Asks for a status rather than a response.
fn echo_status(code: Code, message: &str) -> EchoStatus {
    EchoStatus {
        code: code as i32,
        message: message.to_owned(),
    }
}

pub(super) async fn empty_unary(client: &mut Client) -> Result<(), Failure> {
    client
        .empty_call(Empty {})
        .await
        .map_err(|status| Failure::call("EmptyCall", &status))?;
    // The response decoded as an `Empty`: nothing more to check.
    Ok(())
}

pub(super) async fn large_unary(client: &mut Client) -> Result<(), Failure> {
    let response = client
        .unary_call(large_request())
        .await
        .map_err(|status| Failure::call("UnaryCall", &status))?
        .into_inner();
    check::payload(
        "the UnaryCall response",
        response.payload.as_ref(),
        check::size_of(LARGE_RESPONSE),
    )
}

pub(super) async fn status_code_and_message(client: &mut Client) -> Result<(), Failure> {
    echoes_status(client, ECHOED_CODE, ECHOED_MESSAGE, true).await
}

pub(super) async fn special_status_message(client: &mut Client) -> Result<(), Failure> {
    echoes_status(client, ECHOED_CODE, SPECIAL_MESSAGE, false).await
}

/// Asks `UnaryCall` (and, when `bidi`, `FullDuplexCall`) to end with `code` and `message`,
/// and checks that both come back unchanged.
async fn echoes_status(
    client: &mut Client,
    code: Code,
    message: &str,
    bidi: bool,
) -> Result<(), Failure> {
    let request = SimpleRequest {
        response_status: Some(echo_status(code, message)),
        ..SimpleRequest::default()
    };
    let outcome = client.unary_call(request).await;
    check::status("UnaryCall", outcome, code, Some(message))?;
    if bidi {
        let request = crate::interop::pb::StreamingOutputCallRequest {
            response_status: Some(echo_status(code, message)),
            ..check::output_request(&[], None)
        };
        let call = client.full_duplex_call(tokio_stream::iter([request])).await;
        let outcome = check::collect(call).await.map(|Collected { .. }| ());
        check::status("FullDuplexCall", outcome, code, Some(message))?;
    }
    Ok(())
}

pub(super) async fn unimplemented_method(client: &mut Client) -> Result<(), Failure> {
    let outcome = client.unimplemented_call(Empty {}).await;
    check::status(
        "TestService/UnimplementedCall",
        outcome,
        Code::Unimplemented,
        None,
    )
}

pub(super) async fn unimplemented_service(
    client: &mut UnimplementedServiceClient<Channel>,
) -> Result<(), Failure> {
    let outcome = client.unimplemented_call(Empty {}).await;
    check::status(
        "UnimplementedService/UnimplementedCall",
        outcome,
        Code::Unimplemented,
        None,
    )
}
