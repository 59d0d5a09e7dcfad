//! Variant (e), the floor: a hyper HTTP/2 server that speaks gRPC by hand. It decodes the 5-byte
//! length-prefixed frames and the prost message, calls the same text functions as the handlers,
//! and answers with frames and a `grpc-status: 0` trailer. No routing layer, no tower, no codec
//! machinery: what any gRPC server on hyper must at least do.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::{Body, Frame};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message;
use tokio::net::TcpListener;
use tonic::Code;

use super::handlers;
use super::pb::tonic::{HelloRequest, HelloResponse};
use super::plan::Mode;

/// Length of the gRPC message prefix: a compression flag and a big-endian `u32` length.
pub const PREFIX_LEN: usize = 5;

/// Largest message the floor accepts, as tonic's default decoding limit.
pub const MAX_MESSAGE_LEN: usize = 4 << 20;

/// Why bytes are not a gRPC message.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameError {
    Compressed,
    BadFlag(u8),
    TooLarge(usize),
    Decode(String),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Compressed => write!(f, "compressed message, but no encoding was agreed"),
            FrameError::BadFlag(flag) => write!(f, "invalid compression flag {flag}"),
            FrameError::TooLarge(len) => {
                write!(f, "message of {len} bytes exceeds {MAX_MESSAGE_LEN}")
            }
            FrameError::Decode(error) => write!(f, "bad message: {error}"),
        }
    }
}

/// Appends `message` to `out` as one uncompressed gRPC frame.
pub fn encode_frame(message: &impl Message, out: &mut BytesMut) {
    let len = message.encoded_len();
    out.reserve(PREFIX_LEN + len);
    out.put_u8(0);
    out.put_u32(u32::try_from(len).expect("messages are far below 4 GiB"));
    message.encode_raw(out);
}

/// Takes the first complete frame off `buf` and decodes it; `Ok(None)` until one has arrived.
pub fn decode_frame<M: Message + Default>(buf: &mut BytesMut) -> Result<Option<M>, FrameError> {
    if buf.len() < PREFIX_LEN {
        return Ok(None);
    }
    match buf[0] {
        0 => {}
        1 => return Err(FrameError::Compressed),
        flag => return Err(FrameError::BadFlag(flag)),
    }
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if len > MAX_MESSAGE_LEN {
        return Err(FrameError::TooLarge(len));
    }
    if buf.len() < PREFIX_LEN + len {
        return Ok(None);
    }
    buf.advance(PREFIX_LEN);
    let message = buf.split_to(len).freeze();
    M::decode(message)
        .map(Some)
        .map_err(|error| FrameError::Decode(error.to_string()))
}

/// Accepts connections on `listener` and serves the Greeter over HTTP/2 until the task is
/// dropped.
pub async fn serve(listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        // As tonic's TcpIncoming is configured for the other variants.
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(|request: Request<Incoming>| {
                std::future::ready(Ok::<_, Infallible>(respond(request)))
            });
            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The response to one call: headers at once, then replies as requests arrive, then trailers.
pub fn respond<B>(request: Request<B>) -> Response<FloorBody<B>> {
    let mode = match request.uri().path() {
        "/greeter.v1.Greeter/SayHello" => Some(Mode::Unary),
        "/greeter.v1.Greeter/LotsOfReplies" => Some(Mode::ServerStreaming),
        "/greeter.v1.Greeter/LotsOfGreetings" => Some(Mode::ClientStreaming),
        "/greeter.v1.Greeter/BidiHello" => Some(Mode::Bidi),
        _ => None,
    };
    let path = request.uri().path().to_owned();
    let incoming = request.into_body();
    let body = match mode {
        Some(mode) => FloorBody::new(mode, incoming),
        None => FloorBody::failed(
            incoming,
            Code::Unimplemented,
            &format!("unknown method {path}"),
        ),
    };
    let mut response = Response::new(body);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    response
}

enum State {
    /// Reading requests; replies go out as they are made.
    Reading,
    /// Every reply sent: the trailers are next.
    Trailers(HeaderMap),
    Done,
}

/// The response body of one call, driven by the request body it reads.
pub struct FloorBody<B> {
    mode: Mode,
    incoming: B,
    received: BytesMut,
    replies: BytesMut,
    messages: usize,
    /// `LotsOfGreetings`: the reply being built from every name.
    greeting: String,
    state: State,
}

impl<B> FloorBody<B> {
    fn new(mode: Mode, incoming: B) -> Self {
        Self {
            mode,
            incoming,
            received: BytesMut::new(),
            replies: BytesMut::new(),
            messages: 0,
            greeting: if mode == Mode::ClientStreaming {
                handlers::greetings::<&str>(&[])
            } else {
                String::new()
            },
            state: State::Reading,
        }
    }

    fn failed(incoming: B, code: Code, message: &str) -> Self {
        let mut body = Self::new(Mode::Unary, incoming);
        body.state = State::Trailers(trailers(code, message));
        body
    }

    fn on_request(&mut self, request: HelloRequest) -> Result<(), (Code, String)> {
        self.messages += 1;
        let single = matches!(self.mode, Mode::Unary | Mode::ServerStreaming);
        if single && self.messages > 1 {
            return Err((Code::Internal, "more than one request message".to_owned()));
        }
        let reply = |reply: String, out: &mut BytesMut| encode_frame(&HelloResponse { reply }, out);
        match self.mode {
            Mode::Unary => reply(handlers::hello(&request.name), &mut self.replies),
            Mode::ServerStreaming => {
                for text in handlers::lots_of_replies(&request.name) {
                    reply(text, &mut self.replies);
                }
            }
            Mode::ClientStreaming => self.greeting.push_str(&request.name),
            Mode::Bidi => reply(handlers::bidi_reply(&request.name), &mut self.replies),
        }
        Ok(())
    }

    fn on_end(&mut self) -> Result<(), (Code, String)> {
        if !self.received.is_empty() {
            return Err((Code::Internal, "request ends inside a message".to_owned()));
        }
        match self.mode {
            Mode::Unary | Mode::ServerStreaming if self.messages != 1 => {
                Err((Code::Internal, "missing request message".to_owned()))
            }
            Mode::ClientStreaming => {
                let reply = std::mem::take(&mut self.greeting);
                encode_frame(&HelloResponse { reply }, &mut self.replies);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Decodes every complete request received so far and queues the replies.
    fn drain_requests(&mut self) -> Result<(), (Code, String)> {
        loop {
            match decode_frame::<HelloRequest>(&mut self.received) {
                Ok(Some(request)) => self.on_request(request)?,
                Ok(None) => return Ok(()),
                Err(error) => return Err((Code::Internal, error.to_string())),
            }
        }
    }

    fn finish(&mut self, outcome: Result<(), (Code, String)>) {
        let trailers = match outcome {
            Ok(()) => trailers(Code::Ok, ""),
            Err((code, message)) => {
                // A failed call sends no further replies.
                self.replies.clear();
                trailers(code, &message)
            }
        };
        self.state = State::Trailers(trailers);
    }
}

fn trailers(code: Code, message: &str) -> HeaderMap {
    let mut trailers = HeaderMap::with_capacity(2);
    trailers.insert("grpc-status", HeaderValue::from(code as i32));
    if !message.is_empty() {
        let message =
            HeaderValue::from_str(message).unwrap_or_else(|_| HeaderValue::from_static("error"));
        trailers.insert("grpc-message", message);
    }
    trailers
}

impl<B> Body for FloorBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        loop {
            if !this.replies.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(this.replies.split().freeze()))));
            }
            match std::mem::replace(&mut this.state, State::Done) {
                State::Done => return Poll::Ready(None),
                State::Trailers(trailers) => {
                    return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                }
                State::Reading => this.state = State::Reading,
            }
            match ready!(Pin::new(&mut this.incoming).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        this.received.extend_from_slice(&data);
                        if let Err(error) = this.drain_requests() {
                            this.finish(Err(error));
                        }
                    }
                }
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                None => {
                    let outcome = this.on_end();
                    this.finish(outcome);
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done) && self.replies.is_empty()
    }
}

#[cfg(test)]
mod tests;
