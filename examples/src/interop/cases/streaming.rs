//! The streaming cases: uploads, downloads, ping-pong and empty streams.

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use super::check::{self, Failure, ensure};
use crate::interop::pb::test_service_client::TestServiceClient;
use crate::interop::pb::{StreamingInputCallRequest, StreamingOutputCallRequest};
use crate::interop::zeros;

type Client = TestServiceClient<Channel>;

/// The request payload sizes of `client_streaming` and `ping_pong`.
const UPLOAD_SIZES: [usize; 4] = [27_182, 8, 1_828, 45_904];
/// What `client_streaming`'s uploads add up to.
const UPLOAD_TOTAL: i32 = 74_922;

/// The response sizes of `server_streaming` and `ping_pong`.
const DOWNLOAD_SIZES: [i32; 4] = [31_415, 9, 2_653, 58_979];

pub(super) async fn client_streaming(client: &mut Client) -> Result<(), Failure> {
    let requests = UPLOAD_SIZES.map(|size| StreamingInputCallRequest {
        payload: Some(zeros(size)),
        ..StreamingInputCallRequest::default()
    });
    let response = client
        .streaming_input_call(tokio_stream::iter(requests))
        .await
        .map_err(|status| Failure::call("StreamingInputCall", &status))?
        .into_inner();
    let total = response.aggregated_payload_size;
    ensure(total == UPLOAD_TOTAL, || {
        format!(
            "StreamingInputCall reported an aggregated payload size of {total}, want {UPLOAD_TOTAL}"
        )
    })
}

pub(super) async fn server_streaming(client: &mut Client) -> Result<(), Failure> {
    let request = check::output_request(&DOWNLOAD_SIZES, None);
    let call = client.streaming_output_call(request).await;
    let collected = check::collect(call)
        .await
        .map_err(|status| Failure::call("StreamingOutputCall", &status))?;
    check::output_sizes("StreamingOutputCall", &collected.messages, &DOWNLOAD_SIZES)
}

pub(super) async fn ping_pong(client: &mut Client) -> Result<(), Failure> {
    let (sender, receiver) = mpsc::channel(1);
    let mut pings = DOWNLOAD_SIZES
        .iter()
        .zip(UPLOAD_SIZES)
        .map(|(&size, ping)| check::output_request(&[size], Some(ping)));
    // The first request goes out with the call: a server may send its headers only once it
    // has a request to answer.
    send(&sender, pings.next()).await?;
    let (_, mut pongs, _) = client
        .full_duplex_call(ReceiverStream::new(receiver))
        .await
        .map_err(|status| Failure::call("FullDuplexCall", &status))?
        .into_parts();
    for (round, &size) in DOWNLOAD_SIZES.iter().enumerate() {
        if round > 0 {
            send(&sender, pings.next()).await?;
        }
        let what = format!("FullDuplexCall's response {}", round + 1);
        let pong = pongs
            .message()
            .await
            .map_err(|status| Failure::call(&what, &status))?
            .ok_or_else(|| Failure::new(format!("FullDuplexCall ended before {what}")))?;
        check::payload(&what, pong.payload.as_ref(), check::size_of(size))?;
    }
    // Half-close: the server must end the call OK with no further response.
    drop(sender);
    match pongs.message().await {
        Ok(None) => Ok(()),
        Ok(Some(_)) => Err(Failure::new(format!(
            "FullDuplexCall sent a response beyond the {} asked for",
            DOWNLOAD_SIZES.len()
        ))),
        Err(status) => Err(Failure::call(
            "FullDuplexCall, after the half-close,",
            &status,
        )),
    }
}

pub(super) async fn empty_stream(client: &mut Client) -> Result<(), Failure> {
    let call = client
        .full_duplex_call(tokio_stream::empty::<StreamingOutputCallRequest>())
        .await;
    let collected = check::collect(call)
        .await
        .map_err(|status| Failure::call("FullDuplexCall", &status))?;
    let count = collected.messages.len();
    ensure(count == 0, || {
        format!("FullDuplexCall with no request brought {count} responses, want none")
    })
}

/// Sends the next request of a bidi call.
pub(super) async fn send(
    sender: &mpsc::Sender<StreamingOutputCallRequest>,
    request: Option<StreamingOutputCallRequest>,
) -> Result<(), Failure> {
    let request = request.ok_or_else(|| Failure::new("ran out of requests to send"))?;
    sender
        .send(request)
        .await
        .map_err(|_| Failure::new("FullDuplexCall stopped taking requests"))
}
