use std::convert::Infallible;

use bytes::{Bytes, BytesMut};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};

use super::*;

fn request(name: &str) -> HelloRequest {
    HelloRequest {
        name: name.to_owned(),
    }
}

fn frames(names: &[&str]) -> BytesMut {
    let mut out = BytesMut::new();
    for name in names {
        encode_frame(&request(name), &mut out);
    }
    out
}

/// A request body that arrives in `chunk`-byte pieces, cutting through frames.
fn chunked(
    bytes: BytesMut,
    chunk: usize,
) -> StreamBody<impl tokio_stream::Stream<Item = Result<Frame<Bytes>, Infallible>> + Unpin> {
    let pieces: Vec<Result<Frame<Bytes>, Infallible>> = bytes
        .chunks(chunk)
        .map(|piece| Ok(Frame::data(Bytes::copy_from_slice(piece))))
        .collect();
    StreamBody::new(tokio_stream::iter(pieces))
}

/// Runs one call through the floor: the replies' texts and the trailers.
async fn call(path: &str, body: BytesMut, chunk: usize) -> (Vec<String>, HeaderMap) {
    let request = Request::post(path).body(chunked(body, chunk)).unwrap();
    let response = respond(request);
    assert_eq!(response.headers()["content-type"], "application/grpc");
    let collected = response.into_body().collect().await.unwrap();
    let trailers = collected
        .trailers()
        .cloned()
        .expect("trailers are always sent");
    let mut data = BytesMut::from(&collected.to_bytes()[..]);
    let mut replies = Vec::new();
    while let Some(reply) = decode_frame::<HelloResponse>(&mut data).unwrap() {
        replies.push(reply.reply);
    }
    assert!(data.is_empty(), "trailing bytes after the last reply");
    (replies, trailers)
}

#[test]
fn frames_round_trip_and_wait_for_complete_messages() {
    let mut buf = frames(&["ann", "", "bo"]);
    assert_eq!(&buf[..PREFIX_LEN], &[0, 0, 0, 0, 5]);
    let whole = buf.clone();
    // A frame cut short is not decoded, and nothing is consumed.
    let mut partial = BytesMut::from(&whole[..7]);
    assert_eq!(decode_frame::<HelloRequest>(&mut partial), Ok(None));
    assert_eq!(partial.len(), 7);
    let mut names = Vec::new();
    while let Some(message) = decode_frame::<HelloRequest>(&mut buf).unwrap() {
        names.push(message.name);
    }
    assert_eq!(names, ["ann", "", "bo"]);
    assert!(buf.is_empty());
}

#[test]
fn bad_prefixes_are_errors() {
    let mut compressed = BytesMut::from(&[1u8, 0, 0, 0, 0][..]);
    assert_eq!(
        decode_frame::<HelloRequest>(&mut compressed),
        Err(FrameError::Compressed)
    );
    let mut flag = BytesMut::from(&[7u8, 0, 0, 0, 0][..]);
    assert_eq!(
        decode_frame::<HelloRequest>(&mut flag),
        Err(FrameError::BadFlag(7))
    );
    let mut huge = BytesMut::from(&[0u8, 0xff, 0, 0, 0][..]);
    assert_eq!(
        decode_frame::<HelloRequest>(&mut huge),
        Err(FrameError::TooLarge(0xff00_0000))
    );
    // Field 1 as a varint where a string is expected.
    let mut garbage = BytesMut::from(&[0u8, 0, 0, 0, 2, 0x08, 0x01][..]);
    assert!(matches!(
        decode_frame::<HelloRequest>(&mut garbage),
        Err(FrameError::Decode(_))
    ));
}

#[tokio::test]
async fn every_mode_answers_like_the_handlers() {
    let ok = |trailers: &HeaderMap| trailers["grpc-status"] == "0";
    let (replies, trailers) = call("/greeter.v1.Greeter/SayHello", frames(&["ann"]), 3).await;
    assert_eq!(replies, ["Hello ann"]);
    assert!(ok(&trailers));

    let (replies, trailers) = call("/greeter.v1.Greeter/LotsOfReplies", frames(&["T"]), 64).await;
    assert_eq!(replies, handlers::lots_of_replies("T"));
    assert!(ok(&trailers));

    let (replies, trailers) = call(
        "/greeter.v1.Greeter/LotsOfGreetings",
        frames(&["张三", "李四", "王五"]),
        4,
    )
    .await;
    assert_eq!(replies, ["你好：张三李四王五"]);
    assert!(ok(&trailers));

    let (replies, trailers) = call(
        "/greeter.v1.Greeter/BidiHello",
        frames(&["你好吗？", "走吧", "x"]),
        1,
    )
    .await;
    assert_eq!(replies, ["我好!", "走", "x"]);
    assert!(ok(&trailers));
}

#[tokio::test]
async fn malformed_calls_end_with_an_error_status() {
    let (replies, trailers) = call("/greeter.v1.Greeter/SayHello", frames(&["a", "b"]), 100).await;
    assert!(replies.is_empty());
    assert_eq!(trailers["grpc-status"], "13");

    let (_, trailers) = call("/greeter.v1.Greeter/SayHello", frames(&[]), 100).await;
    assert_eq!(trailers["grpc-message"], "missing request message");

    let mut cut = frames(&["abc"]);
    cut.truncate(6);
    let (_, trailers) = call("/greeter.v1.Greeter/BidiHello", cut, 100).await;
    assert_eq!(trailers["grpc-message"], "request ends inside a message");

    let (_, trailers) = call("/greeter.v1.Greeter/Nope", frames(&["a"]), 100).await;
    assert_eq!(trailers["grpc-status"], "12");
}
