//! Properties of the codecs and keys: whatever a peer sends reads without a panic, and every
//! value a key writes reads back the same.

use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use tonic::metadata::{BinaryMetadataValue, MetadataMap, MetadataValue};

use super::codec::{self, Codec};
use super::{Key, MetadataError};

const STR: Key<codec::Str> = Key::from_static("p-str", codec::Str);
const INT64: Key<codec::Int64> = Key::from_static("p-int64", codec::Int64);
const UINT64: Key<codec::Uint64> = Key::from_static("p-uint64", codec::Uint64);
const BOOL: Key<codec::Bool> = Key::from_static("p-bool", codec::Bool);
const DOUBLE: Key<codec::Double> = Key::from_static("p-double", codec::Double);
const BYTES: Key<codec::Bytes> = Key::from_static("p-bytes-bin", codec::Bytes);
const DURATION: Key<codec::Duration> = Key::from_static("p-duration", codec::Duration);
const TIMESTAMP: Key<codec::Timestamp> = Key::from_static("p-timestamp", codec::Timestamp);
const MESSAGE: Key<codec::Message<prost_types::Any>> =
    Key::from_static("p-message-bin", codec::Message::new("google.protobuf.Any"));

/// Reads every key of `metadata` with every codec; only errors may come back.
fn read_everything(metadata: &MetadataMap) -> Vec<Option<MetadataError>> {
    vec![
        STR.get_all(metadata).err(),
        INT64.get(metadata).err(),
        UINT64.require(metadata).err(),
        BOOL.require_all(metadata).err(),
        DOUBLE.get_all(metadata).err(),
        BYTES.get(metadata).err(),
        DURATION.get(metadata).err(),
        TIMESTAMP.get(metadata).err(),
        MESSAGE.get(metadata).err(),
    ]
}

/// Bytes a header value may hold.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        any::<u8>().prop_filter("header value byte", |b| *b >= 0x20 && *b != 0x7f),
        0..48,
    )
}

fn round_trip<C: Codec>(key: &Key<C>, value: &C::Value) -> C::Value
where
    C::Value: std::fmt::Debug,
{
    let mut metadata = MetadataMap::new();
    key.insert(&mut metadata, value);
    // Through the wire form: headers as a peer would see them.
    let metadata = MetadataMap::from_headers(metadata.into_headers());
    key.require(&metadata).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Any text value under any declared key, several times over, reads as a value or an error.
    #[test]
    fn any_text_value_reads_safely(values in proptest::collection::vec(header_bytes(), 0..3)) {
        let mut metadata = MetadataMap::new();
        for key in ["p-str", "p-int64", "p-uint64", "p-bool", "p-double", "p-duration", "p-timestamp"] {
            for value in &values {
                metadata.append(key, MetadataValue::try_from(value.as_slice()).unwrap());
            }
        }
        read_everything(&metadata);
    }

    /// Any binary value, base64 or not, reads as a value or an error.
    #[test]
    fn any_binary_value_reads_safely(raw in header_bytes(), decoded in proptest::collection::vec(any::<u8>(), 0..48)) {
        let mut metadata = MetadataMap::new();
        for key in ["p-bytes-bin", "p-message-bin"] {
            metadata.append_bin(key, BinaryMetadataValue::from_bytes(&decoded));
            metadata.insert_bin(key, MetadataValue::try_from(raw.as_slice()).unwrap());
        }
        read_everything(&metadata);
    }

    #[test]
    fn strings_round_trip(value in any::<String>()) {
        prop_assert_eq!(round_trip(&STR, &value), value);
    }

    #[test]
    fn numbers_round_trip(int in any::<i64>(), uint in any::<u64>(), flag in any::<bool>()) {
        prop_assert_eq!(round_trip(&INT64, &int), int);
        prop_assert_eq!(round_trip(&UINT64, &uint), uint);
        prop_assert_eq!(round_trip(&BOOL, &flag), flag);
    }

    #[test]
    fn doubles_round_trip(bits in any::<u64>()) {
        let value = f64::from_bits(bits);
        let sent = round_trip(&DOUBLE, &value);
        if value.is_nan() {
            prop_assert!(sent.is_nan());
        } else {
            prop_assert_eq!(sent.to_bits(), value.to_bits());
        }
    }

    #[test]
    fn bytes_round_trip(value in proptest::collection::vec(any::<u8>(), 0..64)) {
        prop_assert_eq!(round_trip(&BYTES, &value), value);
    }

    #[test]
    fn durations_round_trip(seconds in 0..i64::MAX as u64, nanos in 0..1_000_000_000u32) {
        let value = Duration::new(seconds, nanos);
        prop_assert_eq!(round_trip(&DURATION, &value), value);
    }

    /// Every time from year 1 to 9999, to the nanosecond.
    #[test]
    fn timestamps_round_trip(seconds in -62_135_596_800i64..253_402_300_799, nanos in 0..1_000_000_000u32) {
        let value = if seconds >= 0 {
            UNIX_EPOCH + Duration::new(seconds.unsigned_abs(), nanos)
        } else {
            UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs()) + Duration::from_nanos(nanos.into())
        };
        prop_assert_eq!(round_trip(&TIMESTAMP, &value), value);
    }

    #[test]
    fn messages_round_trip(type_url in any::<String>(), value in proptest::collection::vec(any::<u8>(), 0..32)) {
        let message = prost_types::Any { type_url, value };
        prop_assert_eq!(round_trip(&MESSAGE, &message), message);
    }
}
