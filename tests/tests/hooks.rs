//! The generated typed hooks (`greeter_hooks`) on real calls through the golden Greeter: checks
//! and rewrites without a downcast, on the server and on the client.

use greeter_tests::net;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use greeter_runtime::interceptor::{CallContext, Side};
use greeter_tests::greeter::greeter_client::GreeterClient;
use greeter_tests::greeter::greeter_hooks::{self, GreeterHooks};
use greeter_tests::greeter::greeter_server::{Greeter, GreeterServer};
use greeter_tests::greeter::{HelloRequest, HelloResponse};
use tokio_stream::{Stream, StreamExt};
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status, Streaming};

type ReplyStream = Pin<Box<dyn Stream<Item = Result<HelloResponse, Status>> + Send>>;

/// Echoes what it is sent, and counts the SayHello calls it handles.
#[derive(Default)]
struct Echo {
    say_hello_calls: Arc<AtomicUsize>,
}

impl Greeter for Echo {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloResponse>, Status> {
        self.say_hello_calls.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(HelloResponse {
            reply: format!("hello {}", request.into_inner().name),
        }))
    }

    type LotsOfRepliesStream = ReplyStream;

    async fn lots_of_replies(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<ReplyStream>, Status> {
        let name = request.into_inner().name;
        let replies = (1..=3).map(move |i| {
            Ok(HelloResponse {
                reply: format!("{name} #{i}"),
            })
        });
        Ok(Response::new(Box::pin(tokio_stream::iter(replies))))
    }

    async fn lots_of_greetings(
        &self,
        request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<HelloResponse>, Status> {
        let mut names = Vec::new();
        let mut stream = request.into_inner();
        while let Some(request) = stream.next().await {
            names.push(request?.name);
        }
        Ok(Response::new(HelloResponse {
            reply: names.join("+"),
        }))
    }

    type BidiHelloStream = ReplyStream;

    async fn bidi_hello(
        &self,
        request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<ReplyStream>, Status> {
        let replies = request
            .into_inner()
            .map(|request| request.map(|r| HelloResponse { reply: r.name }));
        Ok(Response::new(Box::pin(replies)))
    }
}

/// The hooks under test: each is a plain typed function, no downcast in sight.
#[derive(Default)]
struct Policy {
    bidi_replies: Arc<AtomicUsize>,
}

impl GreeterHooks for Policy {
    fn say_hello(&self, _: &CallContext, request: &mut HelloRequest) -> Result<(), Status> {
        if request.name == "forbidden" {
            return Err(Status::permission_denied("`forbidden` may not be greeted"));
        }
        Ok(())
    }

    fn say_hello_response(
        &self,
        _: &CallContext,
        response: &mut HelloResponse,
    ) -> Result<(), Status> {
        response.reply.push_str(", checked");
        Ok(())
    }

    fn lots_of_greetings(&self, _: &CallContext, request: &mut HelloRequest) -> Result<(), Status> {
        request.name = request.name.to_uppercase();
        Ok(())
    }

    fn bidi_hello_response(&self, _: &CallContext, _: &mut HelloResponse) -> Result<(), Status> {
        self.bidi_replies.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn requests(names: impl IntoIterator<Item = String>) -> impl Stream<Item = HelloRequest> + Send {
    let requests: Vec<_> = names
        .into_iter()
        .map(|name| HelloRequest { name })
        .collect();
    tokio_stream::iter(requests)
}

fn hello(name: &str) -> HelloRequest {
    HelloRequest { name: name.into() }
}

/// A server running [`Policy`], a client to it, the handler's SayHello count and the hooks'
/// BidiHello reply count.
async fn policed() -> (GreeterClient<Channel>, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let echo = Echo::default();
    let handled = Arc::clone(&echo.say_hello_calls);
    let policy = Policy::default();
    let replies = Arc::clone(&policy.bidi_replies);
    let addr =
        serve(GreeterServer::new(echo).with_call_interceptor(greeter_hooks::intercept(policy)))
            .await;
    (
        GreeterClient::new(net::channel(addr).await),
        handled,
        replies,
    )
}

#[tokio::test]
async fn a_request_hook_rejects_a_call_before_its_handler_runs() {
    let (mut client, handled, _) = policed().await;
    let status = client.say_hello(hello("forbidden")).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(status.message(), "`forbidden` may not be greeted");
    assert_eq!(handled.load(Ordering::SeqCst), 0, "the handler ran");

    // Other names pass, and the server keeps serving.
    client.say_hello(hello("ann")).await.unwrap();
    assert_eq!(handled.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_request_hook_changes_each_streamed_request_before_the_handler_sees_it() {
    let (mut client, _, _) = policed().await;
    let names = ["ann", "bo", "cy"].map(String::from);
    let reply = client
        .lots_of_greetings(requests(names))
        .await
        .unwrap()
        .into_inner()
        .reply;
    assert_eq!(reply, "ANN+BO+CY");
}

#[tokio::test]
async fn a_response_hook_rewrites_the_response_the_client_gets() {
    let (mut client, _, _) = policed().await;
    let reply = client
        .say_hello(hello("ann"))
        .await
        .unwrap()
        .into_inner()
        .reply;
    assert_eq!(reply, "hello ann, checked");
    // Methods without hooks of their own pass untouched.
    let replies: Vec<String> = client
        .lots_of_replies(hello("bo"))
        .await
        .unwrap()
        .into_inner()
        .map(|r| r.unwrap().reply)
        .collect()
        .await;
    assert_eq!(replies, ["bo #1", "bo #2", "bo #3"]);
}

#[tokio::test]
async fn a_response_hook_sees_every_message_of_a_stream() {
    let (mut client, _, counted) = policed().await;
    let names = (0..1000).map(|i| format!("n{i}"));
    let replies: Vec<String> = client
        .bidi_hello(requests(names))
        .await
        .unwrap()
        .into_inner()
        .map(|r| r.unwrap().reply)
        .collect()
        .await;
    assert_eq!(replies.len(), 1000);
    assert_eq!(replies[999], "n999");
    // Each reply passed the hook before it was encoded, so all were counted before the
    // client read the last one.
    assert_eq!(counted.load(Ordering::Relaxed), 1000);
}

/// Client-side hooks: requests before they are sent, responses as they arrive.
#[derive(Default)]
struct ClientSide {
    seen_replies: Arc<AtomicUsize>,
}

fn on_the_client(context: &CallContext) -> Result<(), Status> {
    match context.side() {
        Side::Client => Ok(()),
        Side::Server => Err(Status::internal("a client hook ran on the server")),
    }
}

impl GreeterHooks for ClientSide {
    fn say_hello(&self, context: &CallContext, request: &mut HelloRequest) -> Result<(), Status> {
        on_the_client(context)?;
        if request.name.is_empty() {
            return Err(Status::invalid_argument("a name is required"));
        }
        request.name.push_str(" (sent)");
        Ok(())
    }

    fn lots_of_replies_response(
        &self,
        context: &CallContext,
        response: &mut HelloResponse,
    ) -> Result<(), Status> {
        on_the_client(context)?;
        self.seen_replies.fetch_add(1, Ordering::Relaxed);
        response.reply = response.reply.replace('#', "no. ");
        Ok(())
    }
}

#[tokio::test]
async fn the_same_hooks_work_on_a_client() {
    let echo = Echo::default();
    let handled = Arc::clone(&echo.say_hello_calls);
    let addr = serve(GreeterServer::new(echo)).await;
    let hooks = ClientSide::default();
    let seen = Arc::clone(&hooks.seen_replies);
    let mut client = GreeterClient::new(net::channel(addr).await)
        .with_call_interceptor(greeter_hooks::intercept(hooks));

    let reply = client
        .say_hello(hello("ann"))
        .await
        .unwrap()
        .into_inner()
        .reply;
    assert_eq!(reply, "hello ann (sent)");

    let replies: Vec<String> = client
        .lots_of_replies(hello("bo"))
        .await
        .unwrap()
        .into_inner()
        .map(|r| r.unwrap().reply)
        .collect()
        .await;
    assert_eq!(replies, ["bo no. 1", "bo no. 2", "bo no. 3"]);
    assert_eq!(seen.load(Ordering::Relaxed), 3);

    // A request hook's error ends the call with that status.
    let status = client.say_hello(hello("")).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(status.message(), "a name is required");
    assert_eq!(
        handled.load(Ordering::SeqCst),
        1,
        "only the first call reached the server"
    );
}

async fn serve(server: GreeterServer<Echo>) -> SocketAddr {
    net::serve(Server::builder().add_service(server)).await
}
