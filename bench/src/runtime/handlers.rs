//! The Greeter's behaviour, written once: pure text functions (also used by the floor and by the
//! load generator's checks), the handler bodies both generated traits delegate to, and the
//! interceptors of variants (c) and (d). No quota or auth state lives in the handlers: the
//! benchmark measures the framework, not the example.

use greeter_runtime::Interceptors;
use greeter_runtime::interceptors::{
    BearerAuth, Logging, Recovery, Validate, Validation, Violations,
};
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use super::pb;
use super::pb::tonic::{HelloRequest, HelloResponse};

/// The token the load generator presents and (c) and (d) check.
pub const TOKEN: &str = "greeter-bench-token";

/// The Greeter's replies, the example's own text functions: the same behaviour everywhere.
pub use greeter_examples::server::text::{bidi_reply, greetings, hello, lots_of_replies};

/// The reply stream of `LotsOfReplies`: a fixed array, no boxing.
pub type RepliesStream = tokio_stream::Iter<std::array::IntoIter<Result<HelloResponse, Status>, 4>>;

/// The reply stream of `BidiHello`: the request stream, mapped message by message.
pub type BidiStream = tokio_stream::adapters::Map<
    Streaming<HelloRequest>,
    fn(Result<HelloRequest, Status>) -> Result<HelloResponse, Status>,
>;

/// The handler bodies, shared by the tonic-prost-build and the protoc-gen-greeter traits.
#[derive(Debug, Clone, Copy, Default)]
pub struct BenchGreeter;

impl BenchGreeter {
    fn say_hello(request: Request<HelloRequest>) -> Result<Response<HelloResponse>, Status> {
        let reply = hello(&request.into_inner().name);
        Ok(Response::new(HelloResponse { reply }))
    }

    fn lots_of_replies(request: Request<HelloRequest>) -> Result<Response<RepliesStream>, Status> {
        let replies =
            lots_of_replies(&request.into_inner().name).map(|reply| Ok(HelloResponse { reply }));
        Ok(Response::new(tokio_stream::iter(replies)))
    }

    async fn lots_of_greetings(
        request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<HelloResponse>, Status> {
        let mut stream = request.into_inner();
        let mut reply = greetings::<&str>(&[]);
        while let Some(message) = stream.next().await {
            reply.push_str(&message?.name);
        }
        Ok(Response::new(HelloResponse { reply }))
    }

    fn bidi_hello(
        request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<BidiStream>, Status> {
        fn answer(message: Result<HelloRequest, Status>) -> Result<HelloResponse, Status> {
            message.map(|m| HelloResponse {
                reply: bidi_reply(&m.name),
            })
        }
        let answer: fn(_) -> _ = answer;
        Ok(Response::new(request.into_inner().map(answer)))
    }
}

// tonic-prost-build's trait is `#[async_trait]`: one boxed future per call, as tonic users have.
#[tonic::async_trait]
impl pb::tonic::greeter_server::Greeter for BenchGreeter {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloResponse>, Status> {
        Self::say_hello(request)
    }

    type LotsOfRepliesStream = RepliesStream;

    async fn lots_of_replies(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<RepliesStream>, Status> {
        Self::lots_of_replies(request)
    }

    async fn lots_of_greetings(
        &self,
        request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<HelloResponse>, Status> {
        Self::lots_of_greetings(request).await
    }

    type BidiHelloStream = BidiStream;

    async fn bidi_hello(
        &self,
        request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<BidiStream>, Status> {
        Self::bidi_hello(request)
    }
}

impl pb::greeter::greeter_server::Greeter for BenchGreeter {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloResponse>, Status> {
        Self::say_hello(request)
    }

    type LotsOfRepliesStream = RepliesStream;

    async fn lots_of_replies(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<RepliesStream>, Status> {
        Self::lots_of_replies(request)
    }

    async fn lots_of_greetings(
        &self,
        request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<HelloResponse>, Status> {
        Self::lots_of_greetings(request).await
    }

    type BidiHelloStream = BidiStream;

    async fn bidi_hello(
        &self,
        request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<BidiStream>, Status> {
        Self::bidi_hello(request)
    }
}

/// The example's validation rule, on the benchmark's own `HelloRequest`: a name is required and
/// at most 100 characters.
impl Validate for HelloRequest {
    fn validate(&self, violations: &mut Violations) {
        violations.ensure(!self.name.is_empty(), "name", "must not be empty");
        violations.ensure(
            self.name.chars().count() <= 100,
            "name",
            "must be at most 100 characters",
        );
    }
}

/// One interceptor of the standard server chain, to measure (c) with part of the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Link {
    /// Panic recovery.
    Recovery,
    /// Logging, with no tracing subscriber installed.
    Logging,
    /// Bearer auth on the head.
    Auth,
    /// Validation of every request message.
    Validation,
}

impl Link {
    pub const ALL: [Link; 4] = [Link::Recovery, Link::Logging, Link::Auth, Link::Validation];
}

/// The interceptors of (c): the standard server chain the example runs, outermost first: panic
/// recovery, logging (no subscriber is installed, so it measures the interceptor, not a log
/// writer), bearer auth on the head, validation of every request message; those of `links`
/// only.
pub fn chain(links: &[Link]) -> Interceptors {
    links
        .iter()
        .fold(Interceptors::new(), |chain, link| match link {
            Link::Recovery => chain.with_recovery(Recovery::new()),
            Link::Logging => chain.with_call(Logging::new()),
            Link::Auth => chain.with_head(BearerAuth::new(TOKEN)),
            Link::Validation => chain.with_call(Validation::new().message::<HelloRequest>()),
        })
}

/// The interceptor of (d): `BearerAuth`'s own check, as a tonic interceptor, so (c) and (d) do
/// the same work.
pub fn tonic_bearer_check() -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone {
    let auth = BearerAuth::new(TOKEN);
    move |request| {
        auth.verify(request.metadata())?;
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_follow_the_greeter_semantics() {
        assert_eq!(hello("ann"), "Hello ann");
        assert_eq!(lots_of_replies("T")[2], "こんにちはT");
        assert_eq!(greetings(&["张三", "李四"]), "你好：张三李四");
        assert_eq!(bidi_reply("你好吗？"), "我好!");
    }

    #[test]
    fn bearer_check_accepts_only_the_token() {
        let mut check = tonic_bearer_check();
        let with = |value: Option<String>| {
            let mut request = Request::new(());
            if let Some(value) = value {
                request
                    .metadata_mut()
                    .insert("authorization", value.parse().unwrap());
            }
            request
        };
        assert!(check(with(None)).is_err());
        assert!(check(with(Some("Bearer nope".to_owned()))).is_err());
        assert!(check(with(Some(format!("Bearer {TOKEN}")))).is_ok());
    }
}
