//! The example server's head interceptor (`BearerAuth` on the Greeter) against a raw HTTP/2
//! client that behaves like a hostile peer: it announces huge messages, sends part of them and
//! never ends its streams. Calls without the token must be answered UNAUTHENTICATED from the
//! request head alone, before (and without) the request body.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use greeter_examples::pb::{HelloRequest, HelloResponse};
use greeter_examples::server::{self, LocalServer, ServerConfig};
use h2::client::SendRequest;
use h2::{Reason, SendStream};
use http::HeaderMap;
use prost::Message;
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::timeout;

const SAY_HELLO: &str = "/greeter.v1.Greeter/SayHello";
/// How long an answer may take before the test fails instead of hanging.
const PROMPT: Duration = Duration::from_secs(5);
const MIB: u32 = 1024 * 1024;
/// How much of an announced message the hostile client actually sends.
const PARTIAL: usize = 64 * 1024;
const UNAUTHENTICATED: u32 = 16;

/// The example server with no quota; dropping it shuts the server down.
async fn start() -> LocalServer {
    LocalServer::start(ServerConfig {
        quota: 0,
        ..ServerConfig::default()
    })
    .await
    .expect("server starts")
}

/// Opens a plaintext HTTP/2 connection; the connection is driven by a background task.
async fn connect(server: &LocalServer) -> SendRequest<Bytes> {
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A gRPC message frame header: no compression, then the announced length.
fn frame_header(len: u32) -> [u8; 5] {
    let mut header = [0; 5];
    header[1..].copy_from_slice(&len.to_be_bytes());
    header
}

/// The frame header announcing `len` bytes followed by `PARTIAL` zero bytes of the message.
fn partial_message(len: u32) -> Bytes {
    let mut body = BytesMut::new();
    body.put_slice(&frame_header(len));
    body.put_bytes(0, PARTIAL);
    body.freeze()
}

/// A complete, valid `HelloRequest` frame.
fn hello(name: &str) -> Bytes {
    let message = HelloRequest { name: name.into() }.encode_to_vec();
    let mut body = BytesMut::new();
    body.put_slice(&frame_header(message.len().try_into().unwrap()));
    body.put_slice(&message);
    body.freeze()
}

/// What the server answered to one call.
#[derive(Debug)]
struct Answer {
    headers: HeaderMap,
    data: Bytes,
    trailers: Option<HeaderMap>,
    /// The send half, never ended unless the caller asked: still open while the answer came.
    send: SendStream<Bytes>,
}

impl Answer {
    /// `grpc-status` from the trailers, or from the headers of a trailers-only answer.
    fn grpc_status(&self) -> Option<u32> {
        let value = match &self.trailers {
            Some(trailers) => trailers.get("grpc-status"),
            None => self.headers.get("grpc-status"),
        }?;
        value.to_str().ok()?.parse().ok()
    }

    /// The one reply message of a unary call.
    fn reply(&self) -> HelloResponse {
        assert_eq!(self.data[0], 0, "uncompressed");
        let len = u32::from_be_bytes(self.data[1..5].try_into().unwrap()) as usize;
        assert_eq!(self.data.len(), 5 + len, "exactly one message");
        HelloResponse::decode(&self.data[5..]).unwrap()
    }
}

/// Starts a SayHello call (with `authorization: Bearer <token>` if given, plus `extra`
/// headers), sends `body`, ending the request stream only if `end`, and collects the whole
/// answer: headers, data and trailers. Fails the test if that takes longer than `PROMPT`.
async fn call(
    client: &mut SendRequest<Bytes>,
    token: Option<&str>,
    extra: &[(&str, &str)],
    body: Bytes,
    end: bool,
) -> Answer {
    let answer = async {
        let mut request = http::Request::post(format!("http://localhost{SAY_HELLO}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let mut ready = client.clone().ready().await.unwrap();
        let (response, mut send) = ready
            .send_request(request.body(()).unwrap(), false)
            .unwrap();
        send.send_data(body, end).unwrap();
        let (head, mut recv) = response.await.unwrap().into_parts();
        let mut data = BytesMut::new();
        while let Some(chunk) = recv.data().await {
            let chunk = chunk.unwrap();
            recv.flow_control().release_capacity(chunk.len()).unwrap();
            data.put(chunk);
        }
        let trailers = recv.trailers().await.unwrap();
        assert_eq!(head.status, http::StatusCode::OK);
        Answer {
            headers: head.headers,
            data: data.freeze(),
            trailers,
            send,
        }
    };
    timeout(PROMPT, answer)
        .await
        .expect("the server answers promptly")
}

/// Asserts a rejected call was UNAUTHENTICATED (not a size error such as 8 or 11) and that
/// the server answered without the rest of the body: it reset the request stream it never
/// finished reading.
async fn assert_rejected_unread(mut answer: Answer) {
    assert_eq!(answer.grpc_status(), Some(UNAUTHENTICATED), "{answer:?}");
    assert!(answer.data.is_empty(), "no message: {answer:?}");
    let reset = timeout(
        PROMPT,
        std::future::poll_fn(|cx| answer.send.poll_reset(cx)),
    )
    .await
    .expect("the server drops the unfinished request stream")
    .unwrap();
    assert!(
        matches!(reset, Reason::NO_ERROR | Reason::CANCEL),
        "reset with {reset:?}"
    );
}

/// Asserts an authenticated SayHello for `name` succeeds on a fresh connection.
async fn assert_serves(server: &LocalServer, name: &str) {
    let mut client = connect(server).await;
    let answer = call(
        &mut client,
        Some(server::DEFAULT_TOKEN),
        &[],
        hello(name),
        true,
    )
    .await;
    assert!(answer.trailers.is_some(), "{answer:?}");
    assert_eq!(answer.grpc_status(), Some(0), "{answer:?}");
    assert_eq!(answer.reply().reply, format!("Hello {name}"));
}

/// Without the token, a 4 MiB message (within the size limit, so decoding would wait for all
/// of it) is rejected from the head while only 64 KiB of it has arrived.
#[tokio::test]
async fn unauthenticated_partial_4mb_message_is_rejected_before_the_body() {
    let server = start().await;
    let mut client = connect(&server).await;
    let answer = call(&mut client, None, &[], partial_message(4 * MIB), false).await;
    assert_rejected_unread(answer).await;

    // Control: with the token the same unfinished request gets no answer, since the server
    // waits for the rest of the message. So the answer above did not come from the body.
    let pending = timeout(
        Duration::from_millis(300),
        call(
            &mut client,
            Some(server::DEFAULT_TOKEN),
            &[],
            partial_message(4 * MIB),
            false,
        ),
    )
    .await;
    assert!(pending.is_err(), "answered without the body: {pending:?}");
}

/// Without the token, a message over tonic's 4 MiB decoding limit is UNAUTHENTICATED, not the
/// size error that reading its frame header would give.
#[tokio::test]
async fn unauthenticated_over_limit_message_is_unauthenticated_not_a_size_error() {
    let server = start().await;
    let mut client = connect(&server).await;
    let answer = call(&mut client, None, &[], partial_message(8 * MIB), false).await;
    assert_rejected_unread(answer).await;

    // Control: with the token the same request does reach the decoder and fails on its size.
    let answer = call(
        &mut client,
        Some(server::DEFAULT_TOKEN),
        &[],
        partial_message(8 * MIB),
        false,
    )
    .await;
    let code = answer.grpc_status();
    assert!(matches!(code, Some(8 | 11)), "size error, got {answer:?}");
}

/// With the token and a complete small message the raw client gets a normal reply, so the
/// rejections above are about the token, not about the raw client.
#[tokio::test]
async fn authenticated_complete_call_succeeds() {
    let server = start().await;
    assert_serves(&server, "h2").await;
}

/// 48 concurrent unfinished 4 MiB calls on one connection are all rejected promptly, and the
/// server still serves a new connection afterwards.
#[tokio::test]
async fn many_unauthenticated_streams_are_rejected_and_the_server_keeps_serving() {
    let server = start().await;
    let client = connect(&server).await;
    let mut calls = JoinSet::new();
    for _ in 0..48 {
        let mut client = client.clone();
        calls.spawn(async move {
            let answer = call(&mut client, None, &[], partial_message(4 * MIB), false).await;
            assert_rejected_unread(answer).await;
        });
    }
    let all = timeout(PROMPT, calls.join_all()).await;
    assert_eq!(all.expect("all 48 answered promptly").len(), 48);
    assert_serves(&server, "after").await;
}

/// A malformed `grpc-timeout` does not stop the head chain (or crash the server): the call is
/// still UNAUTHENTICATED, and a valid call works afterwards.
#[tokio::test]
async fn malformed_grpc_timeout_is_still_unauthenticated_and_the_server_survives() {
    let server = start().await;
    let mut client = connect(&server).await;
    let answer = call(
        &mut client,
        None,
        &[("grpc-timeout", "soon")],
        partial_message(4 * MIB),
        false,
    )
    .await;
    assert_rejected_unread(answer).await;
    assert_serves(&server, "still").await;
}
