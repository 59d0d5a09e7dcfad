//! How typed metadata values are written: one [`Codec`] per value type, shared by the accessors
//! the generator emits for `(greeter.contract)` and by hand-made [`Key`](super::Key)s.
//!
//! A text codec writes UTF-8 text, which the key percent-encodes where it is not printable ASCII;
//! a binary codec writes bytes, sent base64-encoded in a `-bin` key.

use std::marker::PhantomData;
use std::time::SystemTime;

/// Writes values of one type as metadata bytes and reads them back.
pub trait Codec {
    /// The Rust type of the values.
    type Value;

    /// Whether values are binary (keys end in `-bin`) rather than text.
    const BINARY: bool;

    /// The value type as errors name it: `int64`, `greeter.v1.Mood`.
    fn expected(&self) -> &'static str;

    /// The value as bytes: UTF-8 text for a text codec.
    fn encode(&self, value: &Self::Value) -> Vec<u8>;

    /// The value back from bytes, or why they are not one. Any input is answered, never with a
    /// panic.
    fn decode(&self, bytes: &[u8]) -> Result<Self::Value, String>;
}

/// The text of a text value, or why it is not text.
fn text(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_owned())
}

/// Parses `bytes` as text with `FromStr`.
fn parsed<T>(bytes: &[u8]) -> Result<T, String>
where
    T: std::str::FromStr<Err: std::fmt::Display>,
{
    text(bytes)?.parse().map_err(|e: T::Err| e.to_string())
}

/// UTF-8 text: proto `STRING`, Rust `String`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Str;

impl Codec for Str {
    type Value = String;
    const BINARY: bool = false;

    fn expected(&self) -> &'static str {
        "string"
    }

    fn encode(&self, value: &String) -> Vec<u8> {
        value.as_bytes().to_vec()
    }

    fn decode(&self, bytes: &[u8]) -> Result<String, String> {
        text(bytes).map(str::to_owned)
    }
}

/// A decimal integer: proto `INT64`, Rust `i64`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Int64;

impl Codec for Int64 {
    type Value = i64;
    const BINARY: bool = false;

    fn expected(&self) -> &'static str {
        "int64"
    }

    fn encode(&self, value: &i64) -> Vec<u8> {
        value.to_string().into_bytes()
    }

    fn decode(&self, bytes: &[u8]) -> Result<i64, String> {
        parsed(bytes)
    }
}

/// A decimal integer: proto `UINT64`, Rust `u64`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Uint64;

impl Codec for Uint64 {
    type Value = u64;
    const BINARY: bool = false;

    fn expected(&self) -> &'static str {
        "uint64"
    }

    fn encode(&self, value: &u64) -> Vec<u8> {
        value.to_string().into_bytes()
    }

    fn decode(&self, bytes: &[u8]) -> Result<u64, String> {
        parsed(bytes)
    }
}

/// `true` or `false`: proto `BOOL`, Rust `bool`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bool;

impl Codec for Bool {
    type Value = bool;
    const BINARY: bool = false;

    fn expected(&self) -> &'static str {
        "bool"
    }

    fn encode(&self, value: &bool) -> Vec<u8> {
        value.to_string().into_bytes()
    }

    fn decode(&self, bytes: &[u8]) -> Result<bool, String> {
        match bytes {
            b"true" => Ok(true),
            b"false" => Ok(false),
            _ => Err("neither `true` nor `false`".to_owned()),
        }
    }
}

/// A decimal number, or `inf`, `-inf`, `NaN`: proto `DOUBLE`, Rust `f64`. Every value reads
/// back as the same bits, NaN aside.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Double;

impl Codec for Double {
    type Value = f64;
    const BINARY: bool = false;

    fn expected(&self) -> &'static str {
        "double"
    }

    fn encode(&self, value: &f64) -> Vec<u8> {
        value.to_string().into_bytes()
    }

    fn decode(&self, bytes: &[u8]) -> Result<f64, String> {
        parsed(bytes)
    }
}

/// Any bytes, in a `-bin` key: proto `BYTES`, Rust `Vec<u8>`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bytes;

impl Codec for Bytes {
    type Value = Vec<u8>;
    const BINARY: bool = true;

    fn expected(&self) -> &'static str {
        "bytes"
    }

    fn encode(&self, value: &Vec<u8>) -> Vec<u8> {
        value.clone()
    }

    fn decode(&self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        Ok(bytes.to_vec())
    }
}

/// A non-negative duration as the protobuf JSON mapping writes it (`1.5s`): proto `DURATION`,
/// Rust `std::time::Duration`. Durations beyond `i64::MAX` seconds are sent as that.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Duration;

impl Codec for Duration {
    type Value = std::time::Duration;
    const BINARY: bool = false;

    fn expected(&self) -> &'static str {
        "duration"
    }

    fn encode(&self, value: &std::time::Duration) -> Vec<u8> {
        let duration = prost_types::Duration::try_from(*value).unwrap_or(prost_types::Duration {
            seconds: i64::MAX,
            nanos: 999_999_999,
        });
        duration.to_string().into_bytes()
    }

    fn decode(&self, bytes: &[u8]) -> Result<std::time::Duration, String> {
        let duration: prost_types::Duration = text(bytes)?
            .parse()
            .map_err(|_| "not a duration such as `1.5s`".to_owned())?;
        std::time::Duration::try_from(duration).map_err(|_| "a negative duration".to_owned())
    }
}

/// A point in time as the protobuf JSON mapping writes it (RFC 3339 in UTC,
/// `2026-11-23T10:00:00Z`): proto `TIMESTAMP`, Rust `SystemTime`. Times from year 1 to 9999 read
/// back exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timestamp;

impl Codec for Timestamp {
    type Value = SystemTime;
    const BINARY: bool = false;

    fn expected(&self) -> &'static str {
        "timestamp"
    }

    fn encode(&self, value: &SystemTime) -> Vec<u8> {
        prost_types::Timestamp::from(*value)
            .to_string()
            .into_bytes()
    }

    fn decode(&self, bytes: &[u8]) -> Result<SystemTime, String> {
        let timestamp: prost_types::Timestamp = text(bytes)?
            .parse()
            .map_err(|_| "not an RFC 3339 time such as `2026-11-23T10:00:00Z`".to_owned())?;
        SystemTime::try_from(timestamp).map_err(|e| e.to_string())
    }
}

/// A proto enum by its value's name (`HAPPY`): proto `ENUM`, the Rust enum prost generates.
///
/// ```
/// use greeter_runtime::metadata::{Key, codec::Enum};
/// # #[derive(Debug, Clone, Copy, PartialEq)]
/// # enum Mood { Happy }
/// # impl Mood {
/// #     fn as_str_name(&self) -> &'static str { "HAPPY" }
/// #     fn from_str_name(name: &str) -> Option<Self> { (name == "HAPPY").then_some(Mood::Happy) }
/// # }
/// const MOOD: Key<Enum<Mood>> =
///     Key::from_static("mood", Enum::new("demo.Mood", Mood::as_str_name, Mood::from_str_name));
/// let mut metadata = tonic::metadata::MetadataMap::new();
/// MOOD.insert(&mut metadata, &Mood::Happy);
/// assert_eq!(metadata.get("mood").unwrap(), "HAPPY");
/// ```
#[derive(Debug)]
pub struct Enum<E> {
    name: &'static str,
    to_name: fn(&E) -> &'static str,
    from_name: fn(&str) -> Option<E>,
}

impl<E> Enum<E> {
    /// The codec of the enum `name` (its proto full name), through the `as_str_name` and
    /// `from_str_name` functions prost generates for it.
    pub const fn new(
        name: &'static str,
        to_name: fn(&E) -> &'static str,
        from_name: fn(&str) -> Option<E>,
    ) -> Self {
        Self {
            name,
            to_name,
            from_name,
        }
    }
}

impl<E> Clone for Enum<E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E> Copy for Enum<E> {}

impl<E> Codec for Enum<E> {
    type Value = E;
    const BINARY: bool = false;

    fn expected(&self) -> &'static str {
        self.name
    }

    fn encode(&self, value: &E) -> Vec<u8> {
        (self.to_name)(value).as_bytes().to_vec()
    }

    fn decode(&self, bytes: &[u8]) -> Result<E, String> {
        let name = text(bytes)?;
        (self.from_name)(name).ok_or_else(|| format!("no value of {} is named so", self.name))
    }
}

/// A proto message, encoded, in a `-bin` key: proto `MESSAGE`, the Rust struct prost generates.
#[derive(Debug)]
pub struct Message<M> {
    name: &'static str,
    message: PhantomData<fn() -> M>,
}

impl<M> Message<M> {
    /// The codec of the message `name` (its proto full name).
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            message: PhantomData,
        }
    }
}

impl<M> Clone for Message<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M> Copy for Message<M> {}

impl<M: prost::Message + Default> Codec for Message<M> {
    type Value = M;
    const BINARY: bool = true;

    fn expected(&self) -> &'static str {
        self.name
    }

    fn encode(&self, value: &M) -> Vec<u8> {
        value.encode_to_vec()
    }

    fn decode(&self, bytes: &[u8]) -> Result<M, String> {
        M::decode(bytes).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<C: Codec>(codec: &C, value: &C::Value) -> C::Value {
        codec.decode(&codec.encode(value)).unwrap()
    }

    #[test]
    fn texts_are_as_people_write_them() {
        assert_eq!(Int64.encode(&-42), b"-42");
        assert_eq!(Uint64.encode(&u64::MAX), b"18446744073709551615");
        assert_eq!(Bool.encode(&true), b"true");
        assert_eq!(Double.encode(&1.5), b"1.5");
        assert_eq!(
            Duration.encode(&std::time::Duration::from_millis(1500)),
            b"1.500s"
        );
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(Timestamp.encode(&time), b"2023-11-14T22:13:20Z");
    }

    #[test]
    fn malformed_values_say_why() {
        assert_eq!(
            Int64.decode(b"abc").unwrap_err(),
            "invalid digit found in string"
        );
        assert_eq!(
            Uint64.decode(b"-1").unwrap_err(),
            "invalid digit found in string"
        );
        assert_eq!(
            Bool.decode(b"yes").unwrap_err(),
            "neither `true` nor `false`"
        );
        assert_eq!(Str.decode(b"\xff").unwrap_err(), "not UTF-8");
        assert_eq!(Duration.decode(b"-1s").unwrap_err(), "a negative duration");
        assert_eq!(
            Duration.decode(b"soon").unwrap_err(),
            "not a duration such as `1.5s`"
        );
        assert!(Timestamp.decode(b"yesterday").is_err());
        let any = Message::<prost_types::Any>::new("google.protobuf.Any");
        assert!(any.decode(b"\xff\xff").is_err());
    }

    #[test]
    fn extremes_round_trip() {
        assert_eq!(round_trip(&Int64, &i64::MIN), i64::MIN);
        assert!(round_trip(&Double, &f64::NAN).is_nan());
        assert_eq!(round_trip(&Double, &f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert_eq!(round_trip(&Double, &5e-324), 5e-324);
        let long = std::time::Duration::new(u64::MAX, 999_999_999);
        let sent = round_trip(&Duration, &long);
        assert_eq!(sent, std::time::Duration::new(i64::MAX as u64, 999_999_999));
        let before_epoch = SystemTime::UNIX_EPOCH - std::time::Duration::new(86_400, 5);
        assert_eq!(round_trip(&Timestamp, &before_epoch), before_epoch);
    }
}
