//! How the call chain reaches every message and the end of a call: a codec that runs the
//! per-message hooks as messages are decoded and encoded, and a response body that adds the
//! trailers of handlers and interceptors to the final trailers and runs the end hooks.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tonic::Status;
use tonic::body::Body as TonicBody;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::HeaderMap;
use tonic::codegen::{Body, Bytes, http};

use crate::interceptor::{AnyMessage, Hooks};
use crate::metadata::{ResponseTrailers, merge_trailers};

/// The [`Access`](crate::interceptor::Access) of a payload that is one message.
pub(crate) fn single<'x, M>(message: &'x mut M, name: &'static str) -> Option<AnyMessage<'x>>
where
    M: prost::Message + std::fmt::Debug + 'static,
{
    Some(AnyMessage::new(message, name))
}

/// The [`Access`](crate::interceptor::Access) of a payload that is a stream: none, its messages
/// pass the codec's hooks.
pub(crate) fn stream<'x, X>(_: &'x mut X, _: &'static str) -> Option<AnyMessage<'x>> {
    None
}

/// Wraps a codec so that every decoded message passes the receive hooks and every message to
/// encode the send hooks.
pub(crate) struct InterceptCodec<C> {
    inner: C,
    hooks: Hooks,
}

impl<C> InterceptCodec<C> {
    pub(crate) fn new(inner: C, hooks: Hooks) -> Self {
        Self { inner, hooks }
    }
}

impl<C> Codec for InterceptCodec<C>
where
    C: Codec,
    C::Encode: prost::Message + std::fmt::Debug + 'static,
    C::Decode: prost::Message + std::fmt::Debug + 'static,
{
    type Encode = C::Encode;
    type Decode = C::Decode;
    type Encoder = InterceptEncoder<C::Encoder>;
    type Decoder = InterceptDecoder<C::Decoder>;

    fn encoder(&mut self) -> Self::Encoder {
        InterceptEncoder {
            inner: self.inner.encoder(),
            hooks: self.hooks.clone(),
        }
    }

    fn decoder(&mut self) -> Self::Decoder {
        InterceptDecoder {
            inner: self.inner.decoder(),
            hooks: self.hooks.clone(),
        }
    }
}

pub(crate) struct InterceptEncoder<E> {
    inner: E,
    hooks: Hooks,
}

impl<E> Encoder for InterceptEncoder<E>
where
    E: Encoder<Error = Status>,
    E::Item: prost::Message + std::fmt::Debug + 'static,
{
    type Item = E::Item;
    type Error = Status;

    fn encode(&mut self, mut item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        self.hooks.on_send(&mut item)?;
        self.inner.encode(item, dst)
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.inner.buffer_settings()
    }
}

pub(crate) struct InterceptDecoder<D> {
    inner: D,
    hooks: Hooks,
}

impl<D> Decoder for InterceptDecoder<D>
where
    D: Decoder<Error = Status>,
    D::Item: prost::Message + std::fmt::Debug + 'static,
{
    type Item = D::Item;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        let Some(mut message) = self.inner.decode(src)? else {
            return Ok(None);
        };
        self.hooks.on_receive(&mut message)?;
        Ok(Some(message))
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.inner.buffer_settings()
    }
}

/// Finishes a server response: adds the trailers a handler attached to it and those the
/// interceptors set, and runs the end hooks with the final status. A response that needs
/// neither is returned as it is.
pub(crate) fn finish_response(
    response: http::Response<TonicBody>,
    hooks: Option<Hooks>,
) -> http::Response<TonicBody> {
    let (mut parts, body) = response.into_parts();
    let handler_trailers = parts.extensions.remove::<ResponseTrailers>();
    if handler_trailers.is_none() && hooks.is_none() {
        return http::Response::from_parts(parts, body);
    }
    if let Some(hooks) = &hooks {
        merge_trailers(&mut parts.headers, &hooks.context.headers());
        // A trailers-only response (an error before any message) has its status in the head.
        if let Some(status) = Status::from_header_map(&parts.headers) {
            merge_trailers(&mut parts.headers, &hooks.context.trailers());
            hooks.on_end(&status);
            return http::Response::from_parts(parts, body);
        }
    }
    let body = TonicBody::new(ServerBody {
        inner: body,
        handler_trailers,
        hooks,
    });
    http::Response::from_parts(parts, body)
}

/// A server response body that completes the final trailers.
struct ServerBody {
    inner: TonicBody,
    handler_trailers: Option<ResponseTrailers>,
    hooks: Option<Hooks>,
}

impl ServerBody {
    fn finish(&mut self, trailers: &mut HeaderMap) {
        if let Some(extra) = self.handler_trailers.take() {
            merge_trailers(trailers, &extra.lock());
        }
        if let Some(hooks) = self.hooks.take() {
            if let Some(failure) = hooks.context.take_send_failure() {
                // The status the send hook gave, not tonic's INTERNAL wrapping of it.
                for reserved in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
                    trailers.remove(reserved);
                }
                if failure.add_header(trailers).is_err() {
                    Status::internal("a send hook's status cannot be sent as trailers")
                        .add_header(trailers)
                        .ok();
                }
            }
            merge_trailers(trailers, &hooks.context.trailers());
            let status = Status::from_header_map(trailers)
                .unwrap_or_else(|| Status::internal("the response ended without a grpc-status"));
            hooks.on_end(&status);
        }
    }
}

impl Body for ServerBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        Poll::Ready(match frame {
            Some(Ok(frame)) => match frame.into_trailers() {
                Ok(mut trailers) => {
                    self.finish(&mut trailers);
                    Some(Ok(http_body::Frame::trailers(trailers)))
                }
                Err(frame) => Some(Ok(frame)),
            },
            Some(Err(status)) => {
                if let Some(hooks) = self.hooks.take() {
                    hooks.on_end(&status);
                }
                Some(Err(status))
            }
            None => {
                if let Some(hooks) = self.hooks.take() {
                    hooks.on_end(&Status::internal("the response ended without trailers"));
                }
                None
            }
        })
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ServerBody {
    fn drop(&mut self) {
        // Dropped before its trailers were sent: the client went away, or the connection did.
        if let Some(hooks) = self.hooks.take() {
            hooks.on_end(&Status::cancelled(
                "the call ended before its response was sent",
            ));
        }
    }
}
