//! Real calls through the golden Greeter code: every streaming kind, interceptors on both sides,
//! the per-method constants, and UNIMPLEMENTED for unknown methods.

use greeter_tests::net;
use std::net::SocketAddr;
use std::pin::Pin;

use greeter_runtime::StreamingKind;
use greeter_runtime::interceptor::Head;
use greeter_tests::greeter::greeter_client::GreeterClient;
use greeter_tests::greeter::greeter_methods;
use greeter_tests::greeter::greeter_server::{Greeter, GreeterServer};
use greeter_tests::greeter::{HelloRequest, HelloResponse};
use tokio_stream::{Stream, StreamExt};
use tonic::transport::Server;
use tonic::{Code, Request, Response, Status, Streaming};

type ReplyStream = Pin<Box<dyn Stream<Item = Result<HelloResponse, Status>> + Send>>;

/// Echoes names back and reports what the interceptors left in the request.
struct Echo;

fn tag(request_extensions: &tonic::Extensions) -> String {
    request_extensions
        .get::<&'static str>()
        .map_or_else(String::new, |method| format!(" via {method}"))
}

impl Greeter for Echo {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloResponse>, Status> {
        let tag = tag(request.extensions());
        let client = request
            .metadata()
            .get("x-client")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?")
            .to_owned();
        Ok(Response::new(HelloResponse {
            reply: format!("hello {} from {client}{tag}", request.into_inner().name),
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
        let replies = request.into_inner().map(|request| {
            request.map(|r| HelloResponse {
                reply: r.name.to_uppercase(),
            })
        });
        Ok(Response::new(Box::pin(replies)))
    }
}

fn names(names: &[&str]) -> impl Stream<Item = HelloRequest> + Send + 'static {
    let requests: Vec<_> = names
        .iter()
        .map(|n| HelloRequest {
            name: n.to_string(),
        })
        .collect();
    tokio_stream::iter(requests)
}

#[tokio::test]
async fn all_four_kinds_round_trip_with_interceptors() {
    let server = GreeterServer::new(Echo).with_head_interceptor(|head: &mut Head<'_>| {
        let method = head
            .method()
            .expect("a generated server knows its methods")
            .method();
        head.extensions_mut().insert(method);
        Ok(())
    });
    let addr = serve(server).await;
    let mut client = GreeterClient::new(net::channel(addr).await).with_head_interceptor(
        |head: &mut Head<'_>| {
            let kind = head
                .method()
                .expect("a generated client knows its methods")
                .kind()
                .as_str();
            head.metadata_mut()
                .insert("x-client", kind.parse().unwrap());
            Ok(())
        },
    );

    let reply = client
        .say_hello(HelloRequest { name: "ann".into() })
        .await
        .unwrap()
        .into_inner()
        .reply;
    assert_eq!(reply, "hello ann from unary via SayHello");

    let replies: Vec<String> = client
        .lots_of_replies(HelloRequest { name: "bo".into() })
        .await
        .unwrap()
        .into_inner()
        .map(|r| r.unwrap().reply)
        .collect()
        .await;
    assert_eq!(replies, ["bo #1", "bo #2", "bo #3"]);

    let reply = client
        .lots_of_greetings(names(&["a", "b", "c"]))
        .await
        .unwrap()
        .into_inner()
        .reply;
    assert_eq!(reply, "a+b+c");

    let replies: Vec<String> = client
        .bidi_hello(names(&["x", "yz"]))
        .await
        .unwrap()
        .into_inner()
        .map(|r| r.unwrap().reply)
        .collect()
        .await;
    assert_eq!(replies, ["X", "YZ"]);
}

#[tokio::test]
async fn interceptor_errors_end_calls_before_handlers_and_sends() {
    let server = GreeterServer::new(Echo).with_head_interceptor(|head: &mut Head<'_>| {
        if head.method().map(|m| m.kind()) == Some(StreamingKind::BidiStreaming) {
            Err(Status::permission_denied("no bidi here"))
        } else {
            Ok(())
        }
    });
    let addr = serve(server).await;
    let mut client = GreeterClient::new(net::channel(addr).await);
    let status = client.bidi_hello(names(&["x"])).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(status.message(), "no bidi here");
    // The server keeps serving other calls.
    assert!(client.say_hello(HelloRequest::default()).await.is_ok());

    let mut refusing = GreeterClient::new(net::channel(addr).await)
        .with_head_interceptor(|_: &mut Head<'_>| Err(Status::failed_precondition("offline mode")));
    let status = refusing
        .say_hello(HelloRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn unknown_methods_are_unimplemented() {
    let addr = serve(GreeterServer::new(Echo)).await;
    let mut grpc = tonic::client::Grpc::new(net::channel(addr).await);
    grpc.ready().await.unwrap();
    let status = grpc
        .unary::<HelloRequest, HelloResponse, _>(
            Request::new(HelloRequest::default()),
            "/greeter.v1.Greeter/Missing".parse().unwrap(),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert_eq!(
        status.message(),
        "unknown method `/greeter.v1.Greeter/Missing`"
    );
}

#[test]
fn method_constants_describe_the_service() {
    use tonic::server::NamedService;
    assert_eq!(
        <GreeterServer<Echo> as NamedService>::NAME,
        "greeter.v1.Greeter"
    );
    assert_eq!(greeter_methods::SERVICE_NAME, "greeter.v1.Greeter");
    let paths: Vec<_> = greeter_methods::METHODS
        .iter()
        .map(|m| (m.path(), m.kind()))
        .collect();
    assert_eq!(
        paths,
        [
            ("/greeter.v1.Greeter/SayHello", StreamingKind::Unary),
            (
                "/greeter.v1.Greeter/LotsOfReplies",
                StreamingKind::ServerStreaming
            ),
            (
                "/greeter.v1.Greeter/LotsOfGreetings",
                StreamingKind::ClientStreaming
            ),
            (
                "/greeter.v1.Greeter/BidiHello",
                StreamingKind::BidiStreaming
            ),
        ]
    );
}

async fn serve(server: GreeterServer<Echo>) -> SocketAddr {
    net::serve(Server::builder().add_service(server)).await
}
