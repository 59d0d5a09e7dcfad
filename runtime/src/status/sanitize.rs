//! A peer's final status made safe to read. tonic 0.14 panics on a `grpc-status-details-bin`
//! that is not base64, turns a `grpc-message` that is not UTF-8 into UNKNOWN (losing the real
//! code), and takes details whose code disagrees with `grpc-status` without a word. The
//! generated client passes every response head and trailers through [`sanitize_status`] before
//! tonic reads them.

use percent_encoding::{AsciiSet, CONTROLS, percent_decode, utf8_percent_encode};
use prost::Message;
use tonic::Code;
use tonic::codegen::http::{HeaderMap, HeaderValue};
use tonic::metadata::MetadataMap;

const GRPC_STATUS: &str = "grpc-status";
const GRPC_MESSAGE: &str = "grpc-message";
const GRPC_STATUS_DETAILS: &str = "grpc-status-details-bin";

/// Where a client keeps a `grpc-status-details-bin` it could not use, as it arrived: in the
/// call's [`Status::metadata`](tonic::Status::metadata) (or its trailers).
pub const REJECTED_DETAILS: &str = "greeter-rejected-status-details-bin";

/// What gRPC percent-encodes in `grpc-message`: controls and `%` (and everything not ASCII,
/// which `utf8_percent_encode` always encodes).
const MESSAGE_ESCAPES: &AsciiSet = &CONTROLS.add(b'%');

/// Checks the status in `headers` (a response head or trailers) and repairs what tonic would
/// misread or panic on, keeping the peer's code: an invalid `grpc-status` becomes UNKNOWN, a
/// `grpc-message` that is not UTF-8 is decoded lossily, and unusable details move to
/// [`REJECTED_DETAILS`]. Each repair is named in the message, after what the peer said.
/// Headers without `grpc-status` are left alone.
pub(crate) fn sanitize_status(headers: &mut HeaderMap) {
    let Some(code) = headers.get(GRPC_STATUS) else {
        return;
    };
    let mut problems = Vec::new();
    let code = match parse_code(code.as_bytes()) {
        Some(code) => code,
        None => {
            problems.push(format!(
                "grpc-status `{}` is not a status code",
                String::from_utf8_lossy(code.as_bytes()).escape_debug()
            ));
            headers.insert(GRPC_STATUS, HeaderValue::from_static("2"));
            Code::Unknown
        }
    };
    let message = headers.get(GRPC_MESSAGE).map(|value| {
        let decoded = percent_decode(value.as_bytes());
        match decoded.clone().decode_utf8() {
            Ok(text) => text.into_owned(),
            Err(_) => {
                problems.push("grpc-message is not UTF-8 once percent-decoded".to_owned());
                decoded.decode_utf8_lossy().into_owned()
            }
        }
    });
    if let Some(details) = headers.get(GRPC_STATUS_DETAILS)
        && let Err(problem) = check_details(details, code)
    {
        problems.push(format!("grpc-status-details-bin set aside: {problem}"));
        if let Some(rejected) = headers.remove(GRPC_STATUS_DETAILS) {
            headers.insert(REJECTED_DETAILS, rejected);
        }
    }
    if problems.is_empty() {
        return;
    }
    let note = problems.join("; ");
    let message = match message.as_deref() {
        None | Some("") => format!("[{note}]"),
        Some(message) => format!("{message} [{note}]"),
    };
    let encoded = utf8_percent_encode(&message, MESSAGE_ESCAPES).to_string();
    // Percent-encoded text is visible ASCII, always a valid header value.
    if let Ok(value) = HeaderValue::try_from(encoded) {
        headers.insert(GRPC_MESSAGE, value);
    }
}

/// A `grpc-status` value as tonic reads it (`0` to `16`, no sign or leading zero), or `None`.
fn parse_code(value: &[u8]) -> Option<Code> {
    let number = match value {
        [digit @ b'0'..=b'9'] => digit - b'0',
        [b'1', digit @ b'0'..=b'6'] => 10 + digit - b'0',
        _ => return None,
    };
    Some(Code::from(i32::from(number)))
}

/// Whether `value` is base64 of a google.rpc.Status with the same code as `grpc-status`.
fn check_details(value: &HeaderValue, code: Code) -> Result<(), String> {
    // Decoded through tonic's own binary metadata, so what passes here passes tonic.
    let mut single = HeaderMap::with_capacity(1);
    single.insert(GRPC_STATUS_DETAILS, value.clone());
    let bytes = MetadataMap::from_headers(single)
        .get_bin(GRPC_STATUS_DETAILS)
        .ok_or("not a binary header")?
        .to_bytes()
        .map_err(|_| "not base64")?;
    let status = tonic_types::pb::Status::decode(bytes)
        .map_err(|error| format!("not a google.rpc.Status ({error})"))?;
    if status.code != code as i32 {
        return Err(format!(
            "its code {} disagrees with grpc-status {}",
            status.code, code as i32
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Status;

    fn trailers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_bytes(value).unwrap());
        }
        headers
    }

    fn read(mut headers: HeaderMap) -> (Status, HeaderMap) {
        sanitize_status(&mut headers);
        (Status::from_header_map(&headers).unwrap(), headers)
    }

    #[test]
    fn a_sound_status_is_left_as_it_is() {
        let details = Status::with_details(Code::NotFound, "gone", Default::default());
        let mut headers = HeaderMap::new();
        details.add_header(&mut headers).unwrap();
        let before = headers.clone();
        sanitize_status(&mut headers);
        assert_eq!(headers, before);
        let mut ok = trailers(&[("grpc-status", b"0")]);
        sanitize_status(&mut ok);
        assert_eq!(ok, trailers(&[("grpc-status", b"0")]));
    }

    #[test]
    fn details_that_are_not_base64_are_set_aside_with_the_real_code() {
        let (status, headers) = read(trailers(&[
            ("grpc-status", b"8"),
            ("grpc-message", b"slow down"),
            ("grpc-status-details-bin", b"!!not base64!!"),
        ]));
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(
            status.message(),
            "slow down [grpc-status-details-bin set aside: not base64]"
        );
        assert!(status.details().is_empty());
        assert_eq!(
            headers.get(REJECTED_DETAILS).unwrap().as_bytes(),
            b"!!not base64!!"
        );
    }

    #[test]
    fn details_that_are_not_a_status_or_disagree_are_set_aside() {
        let (status, _) = read(trailers(&[
            ("grpc-status", b"5"),
            ("grpc-status-details-bin", b"//8"), // 0xff 0xff
        ]));
        assert_eq!(status.code(), Code::NotFound);
        assert!(
            status
                .message()
                .starts_with("[grpc-status-details-bin set aside: not a google.rpc.Status"),
            "{}",
            status.message()
        );

        let other = tonic_types::pb::Status {
            code: Code::InvalidArgument as i32,
            message: "lie".into(),
            details: vec![],
        };
        let mut headers = trailers(&[("grpc-status", b"5")]);
        let encoded = tonic::metadata::MetadataValue::from_bytes(&other.encode_to_vec());
        let mut metadata = MetadataMap::from_headers(std::mem::take(&mut headers));
        metadata.insert_bin(GRPC_STATUS_DETAILS, encoded);
        let (status, _) = read(metadata.into_headers());
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(
            status.message(),
            "[grpc-status-details-bin set aside: its code 3 disagrees with grpc-status 5]"
        );
    }

    #[test]
    fn a_message_that_is_not_utf8_keeps_the_code() {
        let (status, _) = read(trailers(&[
            ("grpc-status", b"14"),
            ("grpc-message", b"bad %FF%FE byte"),
        ]));
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(
            status.message(),
            "bad \u{FFFD}\u{FFFD} byte [grpc-message is not UTF-8 once percent-decoded]"
        );
    }

    #[test]
    fn an_invalid_code_is_unknown_and_named() {
        for bad in [&b"banana"[..], b"17", b"01", b"-1", b""] {
            let (status, _) = read(trailers(&[("grpc-status", bad)]));
            assert_eq!(status.code(), Code::Unknown);
            assert!(
                status.message().contains("is not a status code"),
                "{}",
                status.message()
            );
        }
    }

    #[test]
    fn every_code_tonic_reads_is_read_the_same() {
        for code in 0..=16 {
            let text = code.to_string();
            assert_eq!(
                parse_code(text.as_bytes()),
                Some(Code::from_bytes(text.as_bytes()))
            );
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::status::{Any, Details};
    use proptest::prelude::*;
    use tonic::Status;

    /// Bytes a peer can put in a header value (HTTP forbids only controls).
    fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..64)
            .prop_filter("a header value", |b| HeaderValue::from_bytes(b).is_ok())
    }

    /// `grpc-status-details-bin` values: raw bytes, or base64 of bytes that may or may not be
    /// a google.rpc.Status.
    fn details_value() -> impl Strategy<Value = Vec<u8>> {
        let encoded = proptest::collection::vec(any::<u8>(), 0..64).prop_map(|bytes| {
            tonic::metadata::MetadataValue::from_bytes(&bytes)
                .as_encoded_bytes()
                .to_vec()
        });
        let status = (
            any::<i32>(),
            ".{0,16}",
            proptest::collection::vec(any::<u8>(), 0..32),
        )
            .prop_map(|(code, message, value)| {
                let rpc = tonic_types::pb::Status {
                    code,
                    message,
                    details: vec![Any {
                        type_url: "type.googleapis.com/google.rpc.Help".into(),
                        value,
                    }],
                };
                tonic::metadata::MetadataValue::from_bytes(&rpc.encode_to_vec())
                    .as_encoded_bytes()
                    .to_vec()
            });
        prop_oneof![header_bytes(), encoded, status]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Whatever a peer sends as its final status, it reads without a panic, keeps a valid
        /// code, and its details decode.
        #[test]
        fn any_final_status_reads_safely(
            code in prop_oneof![header_bytes(), (0..=20u32).prop_map(|c| c.to_string().into_bytes())],
            message in proptest::option::of(header_bytes()),
            details in proptest::option::of(details_value()),
        ) {
            let mut headers = HeaderMap::new();
            headers.insert(GRPC_STATUS, HeaderValue::from_bytes(&code).unwrap());
            if let Some(message) = &message {
                headers.insert(GRPC_MESSAGE, HeaderValue::from_bytes(message).unwrap());
            }
            if let Some(details) = &details {
                headers.insert(GRPC_STATUS_DETAILS, HeaderValue::from_bytes(details).unwrap());
            }
            sanitize_status(&mut headers);
            let status = Status::from_header_map(&headers).unwrap();
            prop_assert_eq!(status.code(), parse_code(&code).unwrap_or(Code::Unknown));
            let read = Details::of(&status);
            prop_assert!(read.is_ok());
            // Every detail that came through unpacks without a panic, to a value or an error.
            for any in &read.unwrap() {
                let _ = crate::status::unpack::<crate::status::Help>(any);
            }
            // A second pass changes nothing: the repaired status is sound.
            let once = headers.clone();
            sanitize_status(&mut headers);
            prop_assert_eq!(once, headers);
        }

        /// Details of a status built anywhere (a handler's raw bytes included) read as a list
        /// or an error, never a panic.
        #[test]
        fn any_details_bytes_read_safely(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let status = Status::with_details(Code::Internal, "x", bytes.into());
            if let Ok(details) = Details::of(&status) {
                for any in &details {
                    let _ = crate::status::unpack::<crate::status::QuotaFailure>(any);
                    let _ = crate::status::unpack::<crate::status::BadRequest>(any);
                }
            }
        }
    }
}
