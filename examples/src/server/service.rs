//! The Greeter service: the handlers behind the generated `GreeterServer`.

use std::pin::Pin;

use greeter_runtime::metadata::ResponseTrailers;
use greeter_runtime::status::{QuotaFailure, quota_failure};
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use super::quota::Quota;
use super::text;
use crate::pb::greeter_contract::{self, bidi_hello, say_hello};
use crate::pb::greeter_server::Greeter;
use crate::pb::{HelloRequest, HelloResponse};

/// Message of the status `SayHello` answers once a name has used its quota.
pub const QUOTA_EXCEEDED_MESSAGE: &str = "Request limit exceeded.";

/// A stream of replies, as the streaming methods send them.
pub type ResponseStream =
    Pin<Box<dyn Stream<Item = Result<HelloResponse, Status>> + Send + 'static>>;

/// The Greeter: greets in four languages, limits `SayHello` per name, and tells clients where it
/// runs through the `location` response header.
///
/// Authentication is not its concern: the server installs the
/// [`BearerAuth`](greeter_runtime::interceptors::BearerAuth) interceptor in front of it. Nor is
/// malformed metadata: the generated server answers a `request-id` that is not an int64 before
/// `say_hello` runs.
///
/// Every metadata key it reads or writes is declared in `greeter.proto` and goes through the
/// generated `greeter_contract` types. `SayHello` and `BidiHello` send a `timestamp` trailer,
/// on success too (which plain tonic cannot): the generated server sends what a handler puts in
/// its response's [`ResponseTrailers`] with the final status.
#[derive(Debug)]
pub struct GreeterService {
    location: String,
    quota: Quota,
    panic_on: Option<String>,
}

impl GreeterService {
    /// A Greeter at `location` that allows `quota` `SayHello` calls per name (`0`: unlimited).
    pub fn new(location: impl Into<String>, quota: u32) -> Self {
        Self {
            location: location.into(),
            quota: Quota::new(quota),
            panic_on: None,
        }
    }

    /// Makes `SayHello` panic when greeting `name`: a way to watch the server recover from a
    /// bug in a handler (the `greeter-server --panic-on NAME` flag).
    #[must_use]
    pub fn panic_on(mut self, name: Option<String>) -> Self {
        self.panic_on = name;
        self
    }

    fn with_location<T>(&self, message: T) -> Response<T> {
        let mut response = Response::new(message);
        greeter_contract::Header {
            location: self.location.clone(),
        }
        .send(&mut response);
        response
    }

    fn quota_exceeded(&self, name: &str) -> Status {
        let limit = self.quota.limit();
        let description = format!(
            "SayHello allows {limit} call{} per name",
            if limit == 1 { "" } else { "s" }
        );
        let mut status: Status = say_hello::Error::ResourceExhausted {
            message: QUOTA_EXCEEDED_MESSAGE.to_owned(),
            detail: QuotaFailure {
                violations: vec![quota_failure::Violation {
                    subject: format!("name:{name}"),
                    description,
                    ..Default::default()
                }],
            },
        }
        .into();
        say_hello::Trailer { timestamp: now() }.attach_to(&mut status);
        status
    }
}

impl Greeter for GreeterService {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloResponse>, Status> {
        let metadata = say_hello::RequestMetadata::from_request(&request)?;
        let name = request.into_inner().name;
        tracing::info!(
            name,
            request_id = metadata.request_id,
            client_os = metadata.client_os,
            "SayHello"
        );
        if self.panic_on.as_deref() == Some(name.as_str()) {
            panic!("SayHello was told to panic on {name:?} (--panic-on)");
        }
        if !self.quota.try_acquire(&name) {
            return Err(self.quota_exceeded(&name));
        }
        let mut response = self.with_location(HelloResponse {
            reply: text::hello(&name),
        });
        say_hello::Trailer { timestamp: now() }.send(&mut response);
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
                bidi_hello::Trailer { timestamp: now() }.write_to(&mut stamp_at_end.lock());
                None
            })));
        let mut response = self.with_location(Box::pin(replies) as ResponseStream);
        response.extensions_mut().insert(trailers);
        Ok(response)
    }
}

/// Now, in unix seconds.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[tokio::test]
    async fn say_hello_answers_until_the_quota_is_used() {
        let service = GreeterService::new("BeiJing", 1);
        let hello = || Request::new(HelloRequest { name: "Tom".into() });
        let response = service.say_hello(hello()).await.unwrap();
        assert_eq!(response.get_ref().reply, "Hello Tom");
        let header = greeter_contract::Header::from_response(&response).unwrap();
        assert_eq!(header.location, "BeiJing");
        let trailer = say_hello::Trailer::from_response(&response).unwrap();
        assert!(trailer.timestamp > 1_700_000_000, "{trailer:?}");

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
        // The error carries the trailer too.
        let trailer = say_hello::Trailer::from_metadata(status.metadata()).unwrap();
        assert!(trailer.timestamp > 1_700_000_000, "{trailer:?}");
    }

    #[tokio::test]
    async fn a_malformed_request_id_is_refused_naming_the_key() {
        let service = GreeterService::new("BeiJing", 0);
        let mut request = Request::new(HelloRequest { name: "Tom".into() });
        request
            .metadata_mut()
            .insert("request-id", "abc".parse().unwrap());
        let status = service.say_hello(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            status.message(),
            "invalid metadata `request-id`: expected int64, got \"abc\" (invalid digit found in string)"
        );
    }
}
