//! Typed metadata keys: a key name and the [`Codec`] of its values, like grpc-java's
//! `Metadata.Key`. The generator declares one per key of a `(greeter.contract)`; code can make
//! its own for metadata no proto declares.

use std::fmt;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode, percent_encode};
use tonic::metadata::{AsciiMetadataValue, BinaryMetadataValue, MetadataMap};
use tonic::{Code, Status};

use super::codec::Codec;

/// Bytes of a text value that are sent percent-encoded: control characters, `%`, and (always,
/// as the crate encodes every byte past ASCII) anything not ASCII.
const TEXT_ESCAPES: &AsciiSet = &CONTROLS.add(b'%');

/// Names HTTP/2 forbids or gRPC writes itself: never application metadata.
const RESERVED_KEYS: &[&str] = &[
    "connection",
    "content-type",
    "host",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
    "user-agent",
];

/// A metadata key with the codec of its values.
///
/// ```
/// use greeter_runtime::metadata::{Key, codec::Int64};
/// use tonic::metadata::MetadataMap;
///
/// const RETRY_BUDGET: Key<Int64> = Key::from_static("retry-budget", Int64);
///
/// let mut metadata = MetadataMap::new();
/// RETRY_BUDGET.insert(&mut metadata, &3);
/// assert_eq!(RETRY_BUDGET.get(&metadata).unwrap(), Some(3));
///
/// metadata.insert("retry-budget", "three".parse().unwrap());
/// let error = RETRY_BUDGET.get(&metadata).unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "invalid metadata `retry-budget`: expected int64, got \"three\" (invalid digit found in string)"
/// );
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Key<C> {
    name: &'static str,
    codec: C,
}

impl<C: Codec> Key<C> {
    /// The key `name` for values of `codec`, checked as [`Key::new`] checks it.
    ///
    /// # Panics
    ///
    /// When the name is not a valid key for the codec. In a `const` that is a compile error.
    pub const fn from_static(name: &'static str, codec: C) -> Self {
        match check_key(name, C::BINARY) {
            Ok(()) => Self { name, codec },
            Err(_) => panic!("invalid metadata key for its codec"),
        }
    }

    /// The key `name` for values of `codec`; an error when the name has characters other than
    /// lower case letters, digits, `-`, `_` and `.`, starts with `grpc-`, is one HTTP/2 or gRPC
    /// reserves, or ends in `-bin` when the codec is not binary (or the other way round).
    pub fn new(name: &'static str, codec: C) -> Result<Self, InvalidKey> {
        match check_key(name, C::BINARY) {
            Ok(()) => Ok(Self { name, codec }),
            Err(reason) => Err(InvalidKey { name, reason }),
        }
    }

    /// The key's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The key's codec.
    pub const fn codec(&self) -> &C {
        &self.codec
    }

    /// The key's one value, `None` when absent; an error when it is malformed or there are
    /// several.
    pub fn get(&self, metadata: &MetadataMap) -> Result<Option<C::Value>, MetadataError> {
        let mut raw = self.raw(metadata);
        match raw.len() {
            0 => Ok(None),
            1 => raw.pop().map(|value| self.decode(value)).transpose(),
            count => Err(self.error(Problem::Repeated(count))),
        }
    }

    /// The key's one value; an error when it is absent, malformed or repeated.
    pub fn require(&self, metadata: &MetadataMap) -> Result<C::Value, MetadataError> {
        self.get(metadata)?
            .ok_or_else(|| self.error(Problem::Missing))
    }

    /// Every value of the key, in order; an error when one is malformed.
    pub fn get_all(&self, metadata: &MetadataMap) -> Result<Vec<C::Value>, MetadataError> {
        self.raw(metadata)
            .into_iter()
            .map(|value| self.decode(value))
            .collect()
    }

    /// Every value of the key, at least one; an error when there is none or one is malformed.
    pub fn require_all(&self, metadata: &MetadataMap) -> Result<Vec<C::Value>, MetadataError> {
        let values = self.get_all(metadata)?;
        if values.is_empty() {
            return Err(self.error(Problem::Missing));
        }
        Ok(values)
    }

    /// Sets the key to `value`, replacing any values it had.
    pub fn insert(&self, metadata: &mut MetadataMap, value: &C::Value) {
        self.remove(metadata);
        self.append(metadata, value);
    }

    /// Sets the key to `values` (an `Option` or a slice), replacing any it had; none removes it.
    pub fn insert_all<'v>(
        &self,
        metadata: &mut MetadataMap,
        values: impl IntoIterator<Item = &'v C::Value>,
    ) where
        C::Value: 'v,
    {
        self.remove(metadata);
        for value in values {
            self.append(metadata, value);
        }
    }

    /// Adds `value` after the key's other values.
    pub fn append(&self, metadata: &mut MetadataMap, value: &C::Value) {
        let bytes = self.codec.encode(value);
        if C::BINARY {
            metadata.append_bin(self.name, BinaryMetadataValue::from_bytes(&bytes));
        } else {
            metadata.append(self.name, text_value(&bytes));
        }
    }

    /// Removes every value of the key.
    pub fn remove(&self, metadata: &mut MetadataMap) {
        // Removing a key removes all its values.
        if C::BINARY {
            metadata.remove_bin(self.name);
        } else {
            metadata.remove(self.name);
        }
    }

    /// The values as the peer sent them, decoded from base64 or percent-encoding.
    fn raw(&self, metadata: &MetadataMap) -> Vec<Result<Vec<u8>, Problem>> {
        if C::BINARY {
            metadata
                .get_all_bin(self.name)
                .iter()
                .map(|value| {
                    value
                        .to_bytes()
                        .map(Vec::from)
                        .map_err(|_| Problem::Malformed {
                            shown: shown(value.as_encoded_bytes()),
                            reason: "not base64".to_owned(),
                        })
                })
                .collect()
        } else {
            metadata
                .get_all(self.name)
                .iter()
                .map(|value| Ok(percent_decode(value.as_encoded_bytes()).collect()))
                .collect()
        }
    }

    fn decode(&self, raw: Result<Vec<u8>, Problem>) -> Result<C::Value, MetadataError> {
        let bytes = raw.map_err(|problem| self.error(problem))?;
        self.codec.decode(&bytes).map_err(|reason| {
            let shown = if C::BINARY {
                format!("{} bytes", bytes.len())
            } else {
                shown(&bytes)
            };
            self.error(Problem::Malformed { shown, reason })
        })
    }

    fn error(&self, problem: Problem) -> MetadataError {
        MetadataError {
            key: self.name,
            expected: self.codec.expected(),
            problem,
        }
    }
}

/// A text value as metadata: percent-encoded where it is not printable ASCII, and where a space
/// starts or ends it (HTTP/2 peers may strip those).
fn text_value(bytes: &[u8]) -> AsciiMetadataValue {
    let inner_start = bytes.iter().take_while(|&&b| b == b' ').count();
    let inner_end = bytes.len()
        - bytes[inner_start..]
            .iter()
            .rev()
            .take_while(|&&b| b == b' ')
            .count();
    let mut text = "%20".repeat(inner_start);
    text.extend(percent_encode(&bytes[inner_start..inner_end], TEXT_ESCAPES));
    text.push_str(&"%20".repeat(bytes.len() - inner_end));
    // Only printable ASCII is left, which every header value may hold.
    AsciiMetadataValue::try_from(text).unwrap_or_else(|_| AsciiMetadataValue::from_static(""))
}

/// A value as an error shows it: quoted, escaped, cut after 64 characters.
fn shown(bytes: &[u8]) -> String {
    const LIMIT: usize = 64;
    let text = String::from_utf8_lossy(bytes);
    let mut shown: String = text.chars().take(LIMIT).collect();
    if text.chars().nth(LIMIT).is_some() {
        shown.push('…');
    }
    format!("{shown:?}")
}

/// Why a key cannot be one; `Ok` when it can.
const fn check_key(name: &str, binary: bool) -> Result<(), KeyFault> {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return Err(KeyFault::Empty);
    }
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {}
            b'A'..=b'Z' => return Err(KeyFault::UpperCase),
            _ => return Err(KeyFault::Character),
        }
        i += 1;
    }
    if starts_with(bytes, b"grpc-") {
        return Err(KeyFault::GrpcPrefix);
    }
    let mut r = 0;
    while r < RESERVED_KEYS.len() {
        if equal(bytes, RESERVED_KEYS[r].as_bytes()) {
            return Err(KeyFault::Reserved);
        }
        r += 1;
    }
    if ends_with(bytes, b"-bin") != binary {
        return Err(if binary {
            KeyFault::BinaryWithoutSuffix
        } else {
            KeyFault::TextWithSuffix
        });
    }
    Ok(())
}

const fn equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn starts_with(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes.len() >= prefix.len() && equal(bytes.split_at(prefix.len()).0, prefix)
}

const fn ends_with(bytes: &[u8], suffix: &[u8]) -> bool {
    bytes.len() >= suffix.len() && equal(bytes.split_at(bytes.len() - suffix.len()).1, suffix)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyFault {
    Empty,
    UpperCase,
    Character,
    GrpcPrefix,
    Reserved,
    BinaryWithoutSuffix,
    TextWithSuffix,
}

/// A name that cannot be the key of a codec's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid metadata key `{name}`: {reason}")]
pub struct InvalidKey {
    name: &'static str,
    reason: KeyFault,
}

impl fmt::Display for KeyFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "it is empty",
            Self::UpperCase => "metadata keys are lower case",
            Self::Character => "keys hold only a-z, 0-9, `-`, `_` and `.`",
            Self::GrpcPrefix => "keys starting with `grpc-` are reserved for gRPC",
            Self::Reserved => "HTTP/2 or gRPC reserves this key",
            Self::BinaryWithoutSuffix => "binary values need a key ending in `-bin`",
            Self::TextWithSuffix => "a key ending in `-bin` holds binary values",
        })
    }
}

/// Declared metadata that a call is missing or carries malformed.
///
/// As a `Status` (`?` in a handler) it is INVALID_ARGUMENT with the same text, which names the
/// key and the expected type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct MetadataError {
    key: &'static str,
    expected: &'static str,
    problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Problem {
    Missing,
    Repeated(usize),
    Malformed { shown: String, reason: String },
}

impl MetadataError {
    /// The key.
    pub fn key(&self) -> &'static str {
        self.key
    }

    /// The value type the key declares: `int64`, `greeter.v1.Mood`.
    pub fn expected(&self) -> &'static str {
        self.expected
    }

    /// Whether the key is missing (rather than malformed or repeated).
    pub fn is_missing(&self) -> bool {
        self.problem == Problem::Missing
    }

    fn describe(&self) -> String {
        let Self {
            key,
            expected,
            problem,
        } = self;
        match problem {
            Problem::Missing => format!("missing metadata `{key}`: expected {expected}"),
            Problem::Repeated(count) => {
                format!("metadata `{key}` has {count} values: expected one {expected}")
            }
            Problem::Malformed { shown, reason } => {
                format!("invalid metadata `{key}`: expected {expected}, got {shown} ({reason})")
            }
        }
    }
}

impl From<MetadataError> for Status {
    fn from(error: MetadataError) -> Self {
        Status::new(Code::InvalidArgument, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::super::codec::{Bytes, Int64, Str};
    use super::*;

    const NAME: Key<Str> = Key::from_static("x-name", Str);
    const TRACE: Key<Bytes> = Key::from_static("trace-bin", Bytes);
    const COUNT: Key<Int64> = Key::from_static("count", Int64);

    #[test]
    fn keys_are_checked() {
        let fault = |name, binary| check_key(name, binary).unwrap_err();
        assert_eq!(fault("", false), KeyFault::Empty);
        assert_eq!(fault("Request-Id", false), KeyFault::UpperCase);
        assert_eq!(fault("request id", false), KeyFault::Character);
        assert_eq!(fault("grpc-thing", false), KeyFault::GrpcPrefix);
        assert_eq!(fault("te", false), KeyFault::Reserved);
        assert_eq!(fault("trace", true), KeyFault::BinaryWithoutSuffix);
        assert_eq!(fault("name-bin", false), KeyFault::TextWithSuffix);
        assert!(check_key("x.y_z-1", false).is_ok());
        let error = Key::new("Trace", Bytes).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid metadata key `Trace`: metadata keys are lower case"
        );
    }

    #[test]
    fn text_is_percent_encoded_where_it_must_be() {
        let mut metadata = MetadataMap::new();
        for (value, sent) in [
            ("plain words", "plain words"),
            ("100%", "100%25"),
            ("北京", "%E5%8C%97%E4%BA%AC"),
            (" padded ", "%20padded%20"),
            ("line\nbreak", "line%0Abreak"),
            ("  ", "%20%20"),
        ] {
            NAME.insert(&mut metadata, &value.to_owned());
            assert_eq!(metadata.get("x-name").unwrap(), sent);
            assert_eq!(NAME.require(&metadata).unwrap(), value);
        }
    }

    #[test]
    fn missing_repeated_and_malformed_name_the_key() {
        let mut metadata = MetadataMap::new();
        assert_eq!(COUNT.get(&metadata).unwrap(), None);
        let missing = COUNT.require(&metadata).unwrap_err();
        assert!(missing.is_missing());
        assert_eq!(
            missing.to_string(),
            "missing metadata `count`: expected int64"
        );
        assert_eq!(COUNT.require_all(&metadata).unwrap_err(), missing);

        COUNT.append(&mut metadata, &1);
        COUNT.append(&mut metadata, &2);
        assert_eq!(COUNT.get_all(&metadata).unwrap(), [1, 2]);
        assert_eq!(
            COUNT.get(&metadata).unwrap_err().to_string(),
            "metadata `count` has 2 values: expected one int64"
        );

        metadata.insert("count", "1e3".parse().unwrap());
        let status = Status::from(COUNT.get(&metadata).unwrap_err());
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            status.message(),
            "invalid metadata `count`: expected int64, got \"1e3\" (invalid digit found in string)"
        );

        metadata.insert_bin("trace-bin", BinaryMetadataValue::from_bytes(b"\xff\x00"));
        assert_eq!(TRACE.require(&metadata).unwrap(), b"\xff\x00");
        metadata.insert("x-name", "caf%C3".parse().unwrap());
        assert_eq!(
            NAME.get(&metadata).unwrap_err().to_string(),
            "invalid metadata `x-name`: expected string, got \"caf\u{fffd}\" (not UTF-8)"
        );
    }

    #[test]
    fn insert_all_replaces_and_empty_removes() {
        let mut metadata = MetadataMap::new();
        COUNT.insert_all(&mut metadata, &[1, 2, 3]);
        COUNT.insert_all(&mut metadata, &Some(4));
        assert_eq!(COUNT.get_all(&metadata).unwrap(), [4]);
        COUNT.insert_all(&mut metadata, &None);
        assert!(metadata.is_empty());
    }
}
