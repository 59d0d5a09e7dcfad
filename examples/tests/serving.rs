//! The example server's serving defaults and settings, seen from the wire: the stream limit in
//! its HTTP/2 SETTINGS, message size limits, keepalive PINGs that drop a dead peer, and the
//! maximum call duration. Every wait is bounded. TLS is in `tls.rs`.

mod common;

use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use common::{PROMPT, start};
use greeter_examples::client::{self, ClientConfig};
use greeter_examples::pb::HelloRequest;
use greeter_examples::server::{self, LocalServer, ServerConfig, Serving};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tonic::Code;

const MIB: usize = 1024 * 1024;

fn serving(serving: Serving) -> ServerConfig {
    ServerConfig {
        serving,
        ..ServerConfig::default()
    }
}

async fn connect(server: &LocalServer) -> client::GreeterClient {
    let config = ClientConfig {
        addr: format!("http://{}", server.addr),
        ..ClientConfig::default()
    };
    client::connect(&config).await.expect("connects")
}

/// The stream limit the server advertises in its SETTINGS, read by a raw HTTP/2 client.
async fn advertised_stream_limit(server: &LocalServer) -> usize {
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let (_send, mut connection) = h2::client::handshake(tcp).await.unwrap();
    let limit = poll_fn(|cx| {
        if let Poll::Ready(ended) = Pin::new(&mut connection).poll(cx) {
            panic!("the connection ended before the server's SETTINGS: {ended:?}");
        }
        // usize::MAX until the server's SETTINGS arrive.
        match connection.max_concurrent_send_streams() {
            usize::MAX => Poll::Pending,
            limit => Poll::Ready(limit),
        }
    });
    timeout(PROMPT, limit)
        .await
        .expect("the server advertises a stream limit in its SETTINGS")
}

#[tokio::test]
async fn the_server_advertises_its_stream_limit() {
    let default = start(ServerConfig::default()).await;
    assert_eq!(advertised_stream_limit(&default).await, 100);
    let custom = start(serving(Serving {
        max_concurrent_streams: 7,
        ..Serving::default()
    }))
    .await;
    assert_eq!(advertised_stream_limit(&custom).await, 7);
}

/// Asserts `status` is the size error for `limit`: gRPC's RESOURCE_EXHAUSTED (the generated
/// code's, where tonic's codec says OUT_OF_RANGE), with tonic's text naming the limit.
fn assert_size_error(status: &tonic::Status, limit: usize) {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status
            .message()
            .contains(&format!("limit is: {limit} bytes")),
        "{status:?}"
    );
}

#[tokio::test]
async fn a_request_over_4_mib_fails_and_the_server_keeps_serving() {
    let server = start(ServerConfig::default()).await;
    let mut client = connect(&server).await;
    let huge = "x".repeat(4 * MIB);
    let call = client::say_hello(&mut client, &huge);
    let status = timeout(PROMPT, call).await.unwrap().unwrap_err();
    assert_size_error(&status, 4 * MIB);

    let reply = timeout(PROMPT, client::say_hello(&mut client, "after"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.message, "Hello after");
}

#[tokio::test]
async fn message_size_limits_apply_to_requests_and_replies() {
    let server = start(serving(Serving {
        max_receive_message_size: 1024,
        max_send_message_size: 1024,
        ..Serving::default()
    }))
    .await;
    let mut client = connect(&server).await;

    let status = client::say_hello(&mut client, &"x".repeat(2000))
        .await
        .unwrap_err();
    assert_size_error(&status, 1024);

    // Twenty valid names of 100 characters: each request is small, the one reply is not.
    let names = vec!["n".repeat(100); 20];
    let status = client::lots_of_greetings(&mut client, names)
        .await
        .unwrap_err();
    assert_size_error(&status, 1024);

    let reply = client::lots_of_greetings(&mut client, vec!["small".into()])
        .await
        .unwrap();
    assert_eq!(reply.message, "你好：small");
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_HEADER_LEN: usize = 9;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const ACK: u8 = 1;

/// Reads HTTP/2 frames until the server closes the connection, answering none of them; returns
/// how many PINGs (not acks) came.
async fn read_until_closed(tcp: &mut TcpStream) -> usize {
    let mut buffer = BytesMut::new();
    let mut pings = 0;
    loop {
        while buffer.len() >= FRAME_HEADER_LEN {
            let len = u32::from_be_bytes([0, buffer[0], buffer[1], buffer[2]]) as usize;
            if buffer.len() < FRAME_HEADER_LEN + len {
                break;
            }
            let (kind, flags) = (buffer[3], buffer[4]);
            if kind == PING && flags & ACK == 0 {
                pings += 1;
            }
            let _ = buffer.split_to(FRAME_HEADER_LEN + len);
        }
        match tcp.read_buf(&mut buffer).await {
            Ok(0) | Err(_) => return pings,
            Ok(_) => {}
        }
    }
}

#[tokio::test]
async fn a_peer_that_leaves_keepalive_pings_unanswered_is_disconnected() {
    let (interval, ping_timeout) = (Duration::from_millis(300), Duration::from_millis(300));
    let server = start(serving(Serving {
        keepalive_interval: Some(interval),
        keepalive_timeout: ping_timeout,
        ..Serving::default()
    }))
    .await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    tcp.write_all(PREFACE).await.unwrap();
    // An empty SETTINGS frame, then silence: no SETTINGS ack, no PING ack.
    tcp.write_all(&[0, 0, 0, SETTINGS, 0, 0, 0, 0, 0])
        .await
        .unwrap();
    let pings = timeout(PROMPT, read_until_closed(&mut tcp))
        .await
        .expect("the server closes the connection");
    let elapsed = started.elapsed();
    assert!(pings >= 1, "the server sent a keepalive PING first");
    // The server's clock starts when it accepts, a moment before ours.
    let earliest = interval + ping_timeout - Duration::from_millis(100);
    assert!(elapsed >= earliest, "closed after {elapsed:?}");
}

/// A complete SayHello request body: one uncompressed gRPC message.
fn say_hello_body(name: &str) -> Bytes {
    let message = HelloRequest { name: name.into() }.encode_to_vec();
    let mut body = BytesMut::new();
    body.put_u8(0);
    body.put_u32(message.len().try_into().unwrap());
    body.put_slice(&message);
    body.freeze()
}

#[tokio::test]
async fn a_peer_that_answers_keepalive_pings_stays_connected() {
    let server = start(serving(Serving {
        keepalive_interval: Some(Duration::from_millis(200)),
        keepalive_timeout: Duration::from_millis(200),
        ..Serving::default()
    }))
    .await;
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    // h2 answers PINGs by itself, as long as its connection is polled.
    let (send, connection) = h2::client::handshake(tcp).await.unwrap();
    let driven = tokio::spawn(connection);
    // Several keepalive rounds, and no request to keep the connection busy.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!driven.is_finished(), "{:?}", driven.await);

    let call = async {
        let request = http::Request::post(format!(
            "http://{}/greeter.v1.Greeter/SayHello",
            server.addr
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("authorization", format!("Bearer {}", server::DEFAULT_TOKEN))
        .body(())
        .unwrap();
        let mut send = send.ready().await.unwrap();
        let (response, mut body) = send.send_request(request, false).unwrap();
        body.send_data(say_hello_body("kept"), true).unwrap();
        let mut response = response.await.unwrap().into_body();
        while let Some(chunk) = response.data().await {
            let chunk = chunk.unwrap();
            let _ = response.flow_control().release_capacity(chunk.len());
        }
        response.trailers().await.unwrap()
    };
    let trailers = timeout(PROMPT, call).await.unwrap().expect("trailers");
    assert_eq!(trailers.get("grpc-status").unwrap(), "0", "{trailers:?}");
}

#[tokio::test]
async fn the_maximum_call_duration_ends_a_stream_that_runs_too_long() {
    let max = Duration::from_millis(300);
    let server = start(serving(Serving {
        max_call_duration: Some(max),
        ..Serving::default()
    }))
    .await;
    // No client deadline: only the server's limit can end this call.
    let config = ClientConfig {
        addr: format!("http://{}", server.addr),
        timeout: None,
        ..ClientConfig::default()
    };
    let mut client = client::connect(&config).await.unwrap();
    let started = Instant::now();
    let ended = async {
        let mut replies = client::bidi(&mut client, tokio_stream::pending()).await?;
        while replies.next().await?.is_some() {}
        replies.trailers().await.map(drop)
    };
    let status = timeout(PROMPT, ended).await.unwrap().unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(started.elapsed() >= max - Duration::from_millis(50));
}

#[tokio::test]
async fn settings_that_cannot_work_are_refused() {
    for broken in [
        Serving {
            max_concurrent_streams: 0,
            ..Serving::default()
        },
        Serving {
            keepalive_timeout: Duration::ZERO,
            ..Serving::default()
        },
        Serving {
            keepalive_interval: Some(Duration::ZERO),
            ..Serving::default()
        },
    ] {
        let error = server::router(&serving(broken.clone())).await.unwrap_err();
        assert!(error.to_string().contains("must be"), "{broken:?}: {error}");
    }
}
