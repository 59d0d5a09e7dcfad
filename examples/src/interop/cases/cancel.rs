//! The cases that end a call early: cancelled by the client, or out of time.
//!
//! A tonic client cancels a call by dropping it: the transport then resets the HTTP/2 stream
//! (RST_STREAM CANCEL), and the call has no outcome left to read but CANCELLED. What can go
//! wrong, and is checked, is that the call ends on its own before it is cancelled (the server
//! must keep it open, waiting for the client), that the expected response never comes, or that
//! the connection does not survive the cancellation.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

use super::check::{self, Failure, describe};
use super::streaming::send;
use crate::interop::pb::test_service_client::TestServiceClient;
use crate::interop::pb::{Empty, StreamingInputCallRequest};

type Client = TestServiceClient<Channel>;

/// The first request and response sizes of `cancel_after_first_response`.
const FIRST_REQUEST: usize = 27_182;
const FIRST_RESPONSE: i32 = 31_415;

/// How long a call must stay open, the server waiting for the client, before the client
/// cancels it: time for a server that wrongly ends the call to show it.
const STAYS_OPEN: Duration = Duration::from_millis(50);

/// The deadline of `timeout_on_sleeping_server`.
const SHORT_DEADLINE: Duration = Duration::from_millis(1);

/// A request stream that says when the call starts reading it, then never yields a message nor
/// ends: the call stays open, its request headers sent and no message with them.
struct Silent {
    began: Option<oneshot::Sender<()>>,
}

impl Stream for Silent {
    type Item = StreamingInputCallRequest;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(began) = self.began.take() {
            let _ = began.send(());
        }
        Poll::Pending
    }
}

/// The check that a cancelled call left the connection usable for the next one.
async fn still_connected(client: &mut Client, after: &str) -> Result<(), Failure> {
    client
        .empty_call(Empty {})
        .await
        .map(drop)
        .map_err(|status| Failure::call(&format!("EmptyCall after {after}"), &status))
}

pub(super) async fn cancel_after_begin(client: &mut Client) -> Result<(), Failure> {
    let (began, has_begun) = oneshot::channel();
    let mut probe = client.clone();
    // Boxed, so that dropping it below ends it there and then.
    let mut call = Box::pin(probe.streaming_input_call(Silent { began: Some(began) }));
    let ended_early = |ended: Result<_, Status>| {
        let ended = ended
            .map(drop)
            .err()
            .map_or("OK".to_owned(), |s| describe(&s));
        Failure::new(format!(
            "StreamingInputCall ended ({ended}) before the client cancelled it"
        ))
    };
    let begun = tokio::select! {
        ended = &mut call => return Err(ended_early(ended)),
        begun = has_begun => begun,
    };
    begun.map_err(|_| Failure::new("StreamingInputCall never read its request stream"))?;
    tokio::select! {
        ended = &mut call => return Err(ended_early(ended)),
        () = tokio::time::sleep(STAYS_OPEN) => {}
    }
    // Dropping the still open call cancels it: its outcome is CANCELLED by construction.
    drop(call);
    still_connected(client, "cancelling StreamingInputCall").await
}

pub(super) async fn cancel_after_first_response(client: &mut Client) -> Result<(), Failure> {
    let (sender, receiver) = mpsc::channel(1);
    let first = check::output_request(&[FIRST_RESPONSE], Some(FIRST_REQUEST));
    send(&sender, Some(first)).await?;
    let mut probe = client.clone();
    let mut responses = probe
        .full_duplex_call(ReceiverStream::new(receiver))
        .await
        .map_err(|status| Failure::call("FullDuplexCall", &status))?
        .into_inner();
    let response = responses
        .message()
        .await
        .map_err(|status| Failure::call("FullDuplexCall's first response", &status))?
        .ok_or_else(|| Failure::new("FullDuplexCall ended before its first response"))?;
    check::payload(
        "FullDuplexCall's first response",
        response.payload.as_ref(),
        check::size_of(FIRST_RESPONSE),
    )?;
    // Nothing more may come: the server waits for the next request or a half-close.
    if let Ok(next) = tokio::time::timeout(STAYS_OPEN, responses.message()).await {
        let next = match next {
            Ok(Some(_)) => "a second response".to_owned(),
            Ok(None) => "the call ended OK".to_owned(),
            Err(status) => format!("the call ended {}", describe(&status)),
        };
        return Err(Failure::new(format!(
            "FullDuplexCall was not waiting for the client after its first response: {next}"
        )));
    }
    // Cancelled (CANCELLED by construction) by dropping the response before the sender, so
    // that the stream is reset rather than half-closed.
    drop(responses);
    drop(sender);
    still_connected(client, "cancelling FullDuplexCall").await
}

pub(super) async fn timeout_on_sleeping_server(client: &mut Client) -> Result<(), Failure> {
    let (sender, receiver) = mpsc::channel(1);
    send(
        &sender,
        Some(check::output_request(&[], Some(FIRST_REQUEST))),
    )
    .await?;
    let mut request = Request::new(ReceiverStream::new(receiver));
    request.set_timeout(SHORT_DEADLINE);
    // `sender` stays open: the client neither sends more nor half-closes, it waits.
    let outcome = check::collect(client.full_duplex_call(request).await).await;
    drop(sender);
    check::status("FullDuplexCall", outcome, Code::DeadlineExceeded, None)
}
