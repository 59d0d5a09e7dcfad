//! `default_stubs`: implement only some methods; the others answer UNIMPLEMENTED, streaming
//! ones included.

use greeter_tests::greeter_stubs::greeter_client::GreeterClient;
use greeter_tests::greeter_stubs::greeter_server::{Greeter, GreeterServer};
use greeter_tests::greeter_stubs::{HelloRequest, HelloResponse};
use tonic::{Code, Request, Response, Status};

struct OnlySayHello;

impl Greeter for OnlySayHello {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloResponse>, Status> {
        Ok(Response::new(HelloResponse {
            reply: format!("Hello {}", request.into_inner().name),
        }))
    }
}

#[tokio::test]
async fn unimplemented_methods_answer_unimplemented() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(GreeterServer::new(OnlySayHello))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let mut client = GreeterClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let reply = client
        .say_hello(HelloRequest { name: "x".into() })
        .await
        .unwrap();
    assert_eq!(reply.into_inner().reply, "Hello x");

    let status = client
        .lots_of_replies(HelloRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert_eq!(status.message(), "`LotsOfReplies` is not implemented");
    let status = client
        .bidi_hello(tokio_stream::iter([HelloRequest::default()]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert_eq!(status.message(), "`BidiHello` is not implemented");
}
