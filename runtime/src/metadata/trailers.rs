//! Response trailers on success: tonic sends only `grpc-status` in a successful call's trailers;
//! generated servers also send what handlers put in [`ResponseTrailers`], and generated clients
//! hand back the trailers they received apart from the headers.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tonic::codegen::http::HeaderMap;
use tonic::metadata::MetadataMap;

/// Trailers for a response, shared between the handler and the server that sends them.
///
/// On the server, a handler attaches one to its response (`response.trailers_mut()` from
/// [`ResponseExt`]) and fills it any time before the response ends, even from inside the
/// response stream: the generated server sends its contents with the final `grpc-status`. On a
/// generated client, the response of a unary or client-streaming call carries the trailers
/// received (`response.trailers()`), apart from its headers.
///
/// ```
/// use greeter_runtime::metadata::ResponseExt;
///
/// let mut response = tonic::Response::new(());
/// response.trailers_mut().lock().insert("timestamp", "1700000000".parse().unwrap());
/// assert_eq!(response.trailers().unwrap().get("timestamp").unwrap(), "1700000000");
/// ```
#[derive(Debug, Clone, Default)]
pub struct ResponseTrailers(Arc<Mutex<MetadataMap>>);

impl ResponseTrailers {
    /// An empty set of trailers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trailers holding `metadata`.
    pub fn from_metadata(metadata: MetadataMap) -> Self {
        Self(Arc::new(Mutex::new(metadata)))
    }

    /// The trailers, to read or add to. Do not hold the guard across an `.await`.
    pub fn lock(&self) -> MutexGuard<'_, MetadataMap> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of the trailers as they are now.
    pub fn to_metadata(&self) -> MetadataMap {
        self.lock().clone()
    }
}

/// Response trailers on `tonic::Response`.
pub trait ResponseExt {
    /// The trailers of this response: attached by a handler, or received by a generated client
    /// (unary and client-streaming calls; a streaming response has `Streaming::trailers`).
    fn trailers(&self) -> Option<MetadataMap>;

    /// The trailers to send with this response, attached now if there were none.
    fn trailers_mut(&mut self) -> ResponseTrailers;
}

impl<T> ResponseExt for tonic::Response<T> {
    fn trailers(&self) -> Option<MetadataMap> {
        self.extensions()
            .get::<ResponseTrailers>()
            .map(ResponseTrailers::to_metadata)
    }

    fn trailers_mut(&mut self) -> ResponseTrailers {
        self.extensions_mut()
            .get_or_insert_default::<ResponseTrailers>()
            .clone()
    }
}

/// The trailers gRPC itself writes; a handler's or interceptor's trailers never replace them.
fn reserved(key: &str) -> bool {
    matches!(
        key,
        "grpc-status" | "grpc-message" | "grpc-status-details-bin"
    )
}

/// Appends `extra` to `trailers`, except the keys gRPC reserves for the status.
pub(crate) fn merge_trailers(trailers: &mut HeaderMap, extra: &MetadataMap) {
    // `HeaderMap::iter` yields every value of a key, each with its name.
    for (name, value) in extra.as_ref() {
        if !reserved(name.as_str()) {
            trailers.append(name.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_the_status_and_every_value() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        let mut extra = MetadataMap::new();
        extra.insert("grpc-status", "13".parse().unwrap());
        extra.append("x-seen", "a".parse().unwrap());
        extra.append("x-seen", "b".parse().unwrap());
        extra.insert_bin(
            "x-raw-bin",
            tonic::metadata::MetadataValue::from_bytes(b"\x00\x01"),
        );
        merge_trailers(&mut trailers, &extra);
        assert_eq!(trailers.get("grpc-status").unwrap(), "0");
        let seen: Vec<_> = trailers.get_all("x-seen").iter().collect();
        assert_eq!(seen, ["a", "b"]);
        assert!(trailers.contains_key("x-raw-bin"));
    }
}
