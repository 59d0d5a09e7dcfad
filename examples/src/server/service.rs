//! The Greeter service: the handlers behind the generated `GreeterServer`.

use std::pin::Pin;

use greeter_runtime::metadata::{ResponseExt, ResponseTrailers};
use greeter_runtime::status::{QuotaFailure, quota_failure};
use tokio_stream::{Stream, StreamExt};
use tonic::metadata::errors::InvalidMetadataValue;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::{Request, Response, Status, Streaming};

use super::quota::Quota;
use super::text;
use crate::pb::greeter_contract::say_hello;
use crate::pb::greeter_server::Greeter;
use crate::pb::{HelloRequest, HelloResponse};

/// Message of the status `SayHello` answers once a name has used its quota.
pub const QUOTA_EXCEEDED_MESSAGE: &str = "Request limit exceeded.";

/// Response header naming where the server runs.
pub const LOCATION_HEADER: &str = "location";

/// Response trailer of `SayHello` and `BidiHello`: when the call ended, in unix seconds.
pub const TIMESTAMP_TRAILER: &str = "timestamp";

/// Optional request metadata of `SayHello`: a client-chosen int64 that identifies the call in
/// the server's logs.
pub const REQUEST_ID_KEY: &str = "request-id";

/// A stream of replies, as the streaming methods send them.
pub type ResponseStream =
    Pin<Box<dyn Stream<Item = Result<HelloResponse, Status>> + Send + 'static>>;

/// The Greeter: greets in four languages, limits `SayHello` per name, and tells clients where it
/// runs through the `location` response header.
///
/// Authentication is not its concern: the server installs the
/// [`BearerAuth`](greeter_runtime::interceptors::BearerAuth) interceptor in front of it.
///
/// `SayHello` and `BidiHello` also send a `timestamp` trailer on success, which plain tonic
/// cannot: the handler attaches [`ResponseTrailers`] to its response and the generated server
/// sends them with the final status.
#[derive(Debug)]
pub struct GreeterService {
    location: AsciiMetadataValue,
    quota: Quota,
}

impl GreeterService {
    /// A Greeter at `location` that allows `quota` `SayHello` calls per name (`0`: unlimited).
    ///
    /// Fails when `location` cannot be sent as a header value (it must be printable ASCII).
    pub fn new(location: &str, quota: u32) -> Result<Self, InvalidMetadataValue> {
        Ok(Self {
            location: location.parse()?,
            quota: Quota::new(quota),
        })
    }

    fn with_location<T>(&self, message: T) -> Response<T> {
        let mut response = Response::new(message);
        response
            .metadata_mut()
            .insert(LOCATION_HEADER, self.location.clone());
        response
    }

    fn quota_exceeded(&self, name: &str) -> Status {
        let limit = self.quota.limit();
        let description = format!(
            "SayHello allows {limit} call{} per name",
            if limit == 1 { "" } else { "s" }
        );
        say_hello::Error::ResourceExhausted {
            message: QUOTA_EXCEEDED_MESSAGE.to_owned(),
            detail: QuotaFailure {
                violations: vec![quota_failure::Violation {
                    subject: format!("name:{name}"),
                    description,
                    ..Default::default()
                }],
            },
        }
        .into()
    }
}

/// Reads the optional `request-id` metadata: absent is fine, present but not an int64 is
/// `INVALID_ARGUMENT` naming the key.
pub fn request_id(metadata: &MetadataMap) -> Result<Option<i64>, Status> {
    let Some(value) = metadata.get(REQUEST_ID_KEY) else {
        return Ok(None);
    };
    let invalid = |reason: String| {
        Status::invalid_argument(format!("invalid metadata {REQUEST_ID_KEY}: {reason}"))
    };
    let text = value
        .to_str()
        .map_err(|_| invalid("value is not printable ASCII".to_owned()))?;
    text.trim()
        .parse::<i64>()
        .map(Some)
        .map_err(|error| invalid(format!("{text:?} is not an int64 ({error})")))
}

impl Greeter for GreeterService {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloResponse>, Status> {
        let request_id = request_id(request.metadata())?;
        let name = request.into_inner().name;
        tracing::info!(name, request_id, "SayHello");
        if !self.quota.try_acquire(&name) {
            return Err(self.quota_exceeded(&name));
        }
        let mut response = self.with_location(HelloResponse {
            reply: text::hello(&name),
        });
        stamp(&response.trailers_mut());
        Ok(response)
    }

    type LotsOfRepliesStream = ResponseStream;

    async fn lots_of_replies(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<Self::LotsOfRepliesStream>, Status> {
        let name = request.into_inner().name;
        tracing::info!(name, "LotsOfReplies");
        let replies = text::lots_of_replies(&name).map(|reply| Ok(HelloResponse { reply }));
        Ok(self.with_location(Box::pin(tokio_stream::iter(replies))))
    }

    async fn lots_of_greetings(
        &self,
        request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<HelloResponse>, Status> {
        let mut requests = request.into_inner();
        let mut names = Vec::new();
        while let Some(request) = requests.message().await? {
            names.push(request.name);
        }
        tracing::info!(count = names.len(), "LotsOfGreetings");
        Ok(self.with_location(HelloResponse {
            reply: text::greetings(&names),
        }))
    }

    type BidiHelloStream = ResponseStream;

    async fn bidi_hello(
        &self,
        request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<Self::BidiHelloStream>, Status> {
        tracing::info!("BidiHello");
        let trailers = ResponseTrailers::new();
        let stamp_at_end = trailers.clone();
        let replies = request
            .into_inner()
            .map(|request| {
                request.map(|request| HelloResponse {
                    reply: text::bidi_reply(&request.name),
                })
            })
            // The timestamp says when the conversation ended: stamped after the last reply.
            .chain(tokio_stream::iter(std::iter::from_fn(move || {
                stamp(&stamp_at_end);
                None
            })));
        let mut response = self.with_location(Box::pin(replies) as ResponseStream);
        response.extensions_mut().insert(trailers);
        Ok(response)
    }
}

/// Sets the `timestamp` trailer to now, in unix seconds.
fn stamp(trailers: &ResponseTrailers) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    trailers
        .lock()
        .insert(TIMESTAMP_TRAILER, AsciiMetadataValue::from(now));
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    fn metadata(value: Option<&str>) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        if let Some(value) = value {
            metadata.insert(REQUEST_ID_KEY, value.parse().unwrap());
        }
        metadata
    }

    #[test]
    fn request_id_is_optional_but_must_be_an_int64() {
        assert_eq!(request_id(&metadata(None)).unwrap(), None);
        assert_eq!(request_id(&metadata(Some("42"))).unwrap(), Some(42));
        assert_eq!(request_id(&metadata(Some("-7"))).unwrap(), Some(-7));
        for bad in ["abc", "1.5", "99999999999999999999", ""] {
            let status = request_id(&metadata(Some(bad))).unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}");
            assert!(
                status
                    .message()
                    .starts_with("invalid metadata request-id: "),
                "{}",
                status.message()
            );
        }
    }

    #[tokio::test]
    async fn say_hello_answers_until_the_quota_is_used() {
        let service = GreeterService::new("BeiJing", 1).unwrap();
        let hello = || Request::new(HelloRequest { name: "Tom".into() });
        let response = service.say_hello(hello()).await.unwrap();
        assert_eq!(response.get_ref().reply, "Hello Tom");
        assert_eq!(response.metadata().get(LOCATION_HEADER).unwrap(), "BeiJing");
        let trailers = response.trailers().unwrap();
        let stamped: u64 = trailers
            .get(TIMESTAMP_TRAILER)
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(stamped > 1_700_000_000, "{stamped}");

        let status = service.say_hello(hello()).await.unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(status.message(), QUOTA_EXCEEDED_MESSAGE);
        let say_hello::Error::ResourceExhausted { message, detail } =
            say_hello::Error::from_status(&status)
        else {
            panic!("not the declared error: {status:?}");
        };
        assert_eq!(message, QUOTA_EXCEEDED_MESSAGE);
        let violations = &detail.violations;
        assert_eq!(violations[0].subject, "name:Tom");
    }

    #[test]
    fn location_must_be_a_header_value() {
        assert!(GreeterService::new("Bei\nJing", 1).is_err());
    }
}
