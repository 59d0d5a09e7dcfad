//! The Greeter's behaviour, written once: pure text functions (also used by the floor and by the
//! load generator's checks), the handler bodies both generated traits delegate to, and the
//! interceptors of variants (c) and (d). No quota or auth state lives in the handlers: the
//! benchmark measures the framework, not the example.

use std::sync::atomic::{AtomicU64, Ordering};

use greeter_runtime::Interceptors;
use greeter_runtime::interceptor::{
    AnyMessage, Call, CallContext, CallInterceptor, InterceptFuture, Next,
};
use greeter_runtime::interceptors::BearerAuth;
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

/// Who is calling, handed from the audit interceptor to the handler's extensions.
#[derive(Debug, Clone)]
struct Caller {
    method: &'static str,
    agent_len: usize,
}

/// Around every call: reads the request metadata into an extension before the handler, and
/// checks after it that a unary response message is there.
struct Audit;

impl CallInterceptor for Audit {
    fn call<'a>(&'a self, call: &'a mut Call<'_>, next: Next<'a>) -> InterceptFuture<'a> {
        Box::pin(async move {
            let method = call.method().method();
            if let Some(metadata) = call.metadata_mut() {
                let agent_len = metadata
                    .get("user-agent")
                    .map_or(0, |value| value.as_bytes().len());
                let caller = Caller { method, agent_len };
                if let Some(extensions) = call.extensions_mut() {
                    extensions.insert(caller);
                    let seen = extensions
                        .get::<Caller>()
                        .map(|c| c.method.len() + c.agent_len);
                    std::hint::black_box(seen);
                }
            }
            next.run(call).await?;
            let unary_response = !call.method().kind().is_server_streaming();
            if unary_response && call.response().is_none() {
                return Err(Status::internal("response missing after the handler"));
            }
            Ok(())
        })
    }
}

/// Every message, both ways: a size cap on the encoded length.
struct SizeCap(usize);

impl SizeCap {
    fn check(&self, message: &AnyMessage<'_>) -> Result<(), Status> {
        match message.encoded_len() {
            len if len <= self.0 => Ok(()),
            len => Err(Status::resource_exhausted(format!(
                "{} of {len} bytes",
                message.full_name()
            ))),
        }
    }
}

impl CallInterceptor for SizeCap {
    fn on_receive(&self, _: &CallContext, message: &mut AnyMessage<'_>) -> Result<(), Status> {
        self.check(message)
    }

    fn on_send(&self, _: &CallContext, message: &mut AnyMessage<'_>) -> Result<(), Status> {
        self.check(message)
    }
}

/// The end of every call: counts the calls that did not end OK.
#[derive(Default)]
struct Outcomes(AtomicU64);

impl CallInterceptor for Outcomes {
    fn on_end(&self, _: &CallContext, status: &Status) {
        if status.code() != tonic::Code::Ok {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The interceptors of (c): the runtime's `BearerAuth` on the head, then a chain of three call
/// interceptors with message access: an around-style audit, a per-message size cap, and an end
/// hook counting failures.
pub fn chain() -> Interceptors {
    Interceptors::new()
        .with_head(BearerAuth::new(TOKEN))
        .with_call(Audit)
        .with_call(SizeCap(64 * 1024))
        .with_call(Outcomes::default())
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
