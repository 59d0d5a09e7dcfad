//! Messages over a size limit end the call RESOURCE_EXHAUSTED, gRPC's code for them (grpc-go and
//! grpc-java answer it), where tonic's codec says OUT_OF_RANGE. Its text, which names both
//! sizes, is kept.
//!
//! A server maps the status it sends ([`map_headers`]: a trailers-only head or the final
//! trailers). A client maps the status its request body fails with ([`to_resource_exhausted`]);
//! a response message over its limit it finds itself ([`ResponseFraming`]), before tonic's
//! decoder would, since that error goes from tonic's `Streaming` straight to the caller.

use tonic::codegen::http::{HeaderMap, HeaderValue};
use tonic::{Code, Status};

use crate::wire::GRPC_STATUS;

/// How tonic's decoder begins the text of a message over the decoding limit.
const DECODED_TOO_LARGE: &str = "Error, decoded message length too large: found ";
/// How tonic's encoder begins the text of a message over the encoding limit.
const ENCODED_TOO_LARGE: &str = "Error, encoded message length too large: found ";

/// tonic's decoding limit when none is set (its `DEFAULT_MAX_RECV_MESSAGE_SIZE`, private).
const DEFAULT_DECODING_LIMIT: usize = 4 * 1024 * 1024;

/// The length of a gRPC message's prefix: a compression flag, then the length (`u32`, big end).
const PREFIX_LEN: usize = 5;

/// `status` with gRPC's code when it is tonic's codec refusing a message over a size limit (code
/// OUT_OF_RANGE and tonic's text, nothing else: a handler's own OUT_OF_RANGE passes unchanged).
pub(crate) fn to_resource_exhausted(status: Status) -> Status {
    if !is_size_error(&status) {
        return status;
    }
    Status::with_details_and_metadata(
        Code::ResourceExhausted,
        status.message(),
        status.details().to_vec().into(),
        status.metadata().clone(),
    )
}

/// Whether `status` is tonic's codec refusing a message over a size limit.
pub(crate) fn is_size_error(status: &Status) -> bool {
    status.code() == Code::OutOfRange
        && [DECODED_TOO_LARGE, ENCODED_TOO_LARGE]
            .iter()
            .any(|prefix| status.message().starts_with(prefix))
}

/// [`to_resource_exhausted`] on the status in `headers`: a trailers-only head or final trailers.
pub(crate) fn map_headers(headers: &mut HeaderMap) {
    // Most heads carry no status and most trailers another code: only OUT_OF_RANGE is parsed.
    if headers
        .get(&GRPC_STATUS)
        .is_none_or(|code| Code::from_bytes(code.as_bytes()) != Code::OutOfRange)
    {
        return;
    }
    if Status::from_header_map(headers).is_some_and(|status| is_size_error(&status)) {
        headers.insert(
            GRPC_STATUS.clone(),
            HeaderValue::from(Code::ResourceExhausted as i32),
        );
    }
}

/// The size limits a client set, for its channel ([`Observed`](super::observed::Observed)) to
/// see in the extensions of each request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SizeLimits {
    /// The response message limit, when one is set (else tonic's default applies).
    pub(crate) decoding: Option<usize>,
    /// The request message limit, when one is set.
    pub(crate) encoding: Option<usize>,
}

/// Follows the gRPC framing of a response body to find, from its prefix, the first message
/// longer than the client's decoding limit: tonic's decoder would fail with OUT_OF_RANGE there
/// and hand that to the caller, past any code of ours. The check is tonic's (the length on the
/// wire, before decompression), so tonic's never fires.
#[derive(Debug)]
pub(crate) struct ResponseFraming {
    limit: usize,
    /// The prefix being read, and how much of it has come.
    prefix: [u8; PREFIX_LEN],
    seen: usize,
    /// How much of the current message is still to come.
    rest: usize,
}

impl ResponseFraming {
    pub(crate) fn new(limit: Option<usize>) -> Self {
        Self {
            limit: limit.unwrap_or(DEFAULT_DECODING_LIMIT),
            prefix: [0; PREFIX_LEN],
            seen: 0,
            rest: 0,
        }
    }

    /// Reads the next data of the body: if a message in it is over the limit, where in `data`
    /// its prefix begins (0 when it began in earlier data) and the status to end the call with.
    pub(crate) fn scan(&mut self, data: &[u8]) -> Option<(usize, Status)> {
        let mut at = 0;
        while at < data.len() {
            if self.rest > 0 {
                let skipped = self.rest.min(data.len() - at);
                self.rest -= skipped;
                at += skipped;
                continue;
            }
            let start = at;
            let taken = (PREFIX_LEN - self.seen).min(data.len() - at);
            self.prefix[self.seen..self.seen + taken].copy_from_slice(&data[at..at + taken]);
            self.seen += taken;
            at += taken;
            if self.seen == PREFIX_LEN {
                self.seen = 0;
                let [_, a, b, c, d] = self.prefix;
                let len = u32::from_be_bytes([a, b, c, d]) as usize;
                if len > self.limit {
                    return Some((start, decoded_too_large(len, self.limit)));
                }
                self.rest = len;
            }
        }
        None
    }
}

/// tonic's decoding error for a message of `len` bytes over `limit`, with gRPC's code.
fn decoded_too_large(len: usize, limit: usize) -> Status {
    Status::resource_exhausted(format!(
        "{DECODED_TOO_LARGE}{len} bytes, the limit is: {limit} bytes"
    ))
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use tokio_stream::StreamExt;
    use tonic::codec::{Codec, EncodeBody, Streaming};
    use tonic::codegen::{Body, Bytes};
    use tonic_prost::ProstCodec;

    use super::*;

    /// A request body of one message of `len` bytes (a `bytes` field: a tag byte and a varint
    /// length before them), encoded by tonic with no limit.
    fn body_of(len: usize) -> impl Body<Data = Bytes, Error = Status> + Send + 'static {
        let mut codec = ProstCodec::<Vec<u8>, Vec<u8>>::default();
        let message = Ok(vec![7u8; len]);
        EncodeBody::new_client(codec.encoder(), tokio_stream::once(message), None, None)
    }

    /// What tonic's decoder says of a message of `len` bytes (`bytes` field) under `limit`.
    async fn decoded(len: usize, limit: Option<usize>) -> Status {
        let mut codec = ProstCodec::<Vec<u8>, Vec<u8>>::default();
        let mut stream = Streaming::new_request(codec.decoder(), body_of(len), None, limit);
        stream.next().await.unwrap().unwrap_err()
    }

    /// What tonic's encoder says of a message of `len` bytes under `limit`.
    async fn encoded(len: usize, limit: usize) -> Status {
        let mut codec = ProstCodec::<Vec<u8>, Vec<u8>>::default();
        let message = Ok(vec![7u8; len]);
        let body = EncodeBody::new_client(
            codec.encoder(),
            tokio_stream::once(message),
            None,
            Some(limit),
        );
        let mut body = std::pin::pin!(body);
        let frame = poll_fn(|cx| body.as_mut().poll_frame(cx)).await;
        frame.unwrap().unwrap_err()
    }

    /// Pins tonic's texts: an upgrade that changes them fails here, not silently in the field.
    #[tokio::test]
    async fn tonic_size_errors_are_recognised_and_keep_their_text() {
        let decoding = decoded(100, Some(64)).await;
        assert_eq!(decoding.code(), Code::OutOfRange, "{decoding:?}");
        let mapped = to_resource_exhausted(decoding.clone());
        assert_eq!(mapped.code(), Code::ResourceExhausted);
        assert_eq!(mapped.message(), decoding.message());
        assert!(
            mapped
                .message()
                .contains("found 102 bytes, the limit is: 64 bytes")
        );

        let encoding = encoded(100, 64).await;
        assert_eq!(encoding.code(), Code::OutOfRange, "{encoding:?}");
        let mapped = to_resource_exhausted(encoding.clone());
        assert_eq!(mapped.code(), Code::ResourceExhausted);
        assert_eq!(mapped.message(), encoding.message());
        assert!(
            mapped
                .message()
                .contains("found 102 bytes, the limit is: 64 bytes")
        );
    }

    #[tokio::test]
    async fn the_framing_check_says_what_tonic_says_at_its_limit() {
        for (len, limit) in [(100, Some(64)), (4 * 1024 * 1024, None)] {
            let tonic = to_resource_exhausted(decoded(len, limit).await);
            let mut framing = ResponseFraming::new(limit);
            let mut body = std::pin::pin!(body_of(len));
            let frame = poll_fn(|cx| body.as_mut().poll_frame(cx)).await;
            let data = frame.unwrap().unwrap().into_data().unwrap();
            let (at, ours) = framing.scan(&data).expect("over the limit");
            assert_eq!(at, 0);
            assert_eq!(ours.code(), tonic.code());
            assert_eq!(ours.message(), tonic.message());
        }
        // At the limit, tonic decodes the message and so does the framing let it through.
        let limit = 100 + 2;
        let mut codec = ProstCodec::<Vec<u8>, Vec<u8>>::default();
        let mut stream = Streaming::new_request(codec.decoder(), body_of(100), None, Some(limit));
        assert!(stream.next().await.unwrap().is_ok());
        let mut body = std::pin::pin!(body_of(100));
        let frame = poll_fn(|cx| body.as_mut().poll_frame(cx)).await;
        let data = frame.unwrap().unwrap().into_data().unwrap();
        assert!(ResponseFraming::new(Some(limit)).scan(&data).is_none());
    }

    #[test]
    fn other_statuses_pass_unchanged() {
        let text = format!("{DECODED_TOO_LARGE}9 bytes, the limit is: 8 bytes");
        for status in [
            Status::out_of_range("page 7 of 3"),
            Status::out_of_range(format!("my {text}")),
            Status::internal(text.clone()),
            Status::resource_exhausted(text),
            Status::ok(""),
        ] {
            let passed = to_resource_exhausted(status.clone());
            assert_eq!(passed.code(), status.code());
            assert_eq!(passed.message(), status.message());

            let mut headers = HeaderMap::new();
            status.add_header(&mut headers).unwrap();
            let before = headers.clone();
            map_headers(&mut headers);
            assert_eq!(headers, before);
        }
        let mut empty = HeaderMap::new();
        map_headers(&mut empty);
        assert!(empty.is_empty());
    }

    #[tokio::test]
    async fn a_status_in_headers_is_mapped_in_place() {
        let tonic = encoded(100, 64).await;
        let mut headers = HeaderMap::new();
        headers.insert("x-kept", HeaderValue::from_static("yes"));
        tonic.add_header(&mut headers).unwrap();
        map_headers(&mut headers);
        let mapped = Status::from_header_map(&headers).unwrap();
        assert_eq!(mapped.code(), Code::ResourceExhausted);
        assert_eq!(mapped.message(), tonic.message());
        assert_eq!(headers.get("x-kept").unwrap(), "yes");
    }

    /// One message's framing: a prefix for `len` bytes, then `len` bytes.
    fn framed(len: usize) -> Vec<u8> {
        let mut bytes = vec![0];
        bytes.extend_from_slice(&u32::try_from(len).unwrap().to_be_bytes());
        bytes.resize(PREFIX_LEN + len, 1);
        bytes
    }

    #[test]
    fn the_framing_follows_messages_across_data_of_any_split() {
        let mut body = framed(3);
        body.extend(framed(0));
        body.extend(framed(8));
        let over = body.len();
        body.extend(framed(9));
        for chunk in 1..=body.len() {
            let mut framing = ResponseFraming::new(Some(8));
            let found = body.chunks(chunk).enumerate().find_map(|(i, data)| {
                let (at, status) = framing.scan(data)?;
                Some((i * chunk + at, status))
            });
            let (at, status) = found.expect("the last message is over");
            // Where its prefix begins, or where the data that completes the prefix begins.
            let completing = (over + PREFIX_LEN - 1) / chunk * chunk;
            assert_eq!(at, over.max(completing), "chunks of {chunk}");
            assert!(
                status
                    .message()
                    .ends_with("found 9 bytes, the limit is: 8 bytes")
            );
        }
    }
}
