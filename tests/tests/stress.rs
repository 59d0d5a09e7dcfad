//! Real calls through the golden stress code: well-known types (`()` for Empty, prost-types
//! Timestamp), cross-package messages, every streaming kind, keyword and clashing method names,
//! deprecated items, idempotency levels, proto3 `optional` and wrapper types.

#![allow(deprecated)] // `OldPing` and the `Legacy` service are deprecated on purpose.

use std::net::SocketAddr;
use std::pin::Pin;

use greeter_runtime::{Idempotency, StreamingKind};
use greeter_tests::stress_set::stress::api::v1::{
    Item, everything_client::EverythingClient, everything_methods, everything_server,
    nothing_methods, nothing_server::NothingServer, wrapped_client::WrappedClient, wrapped_server,
};
use greeter_tests::stress_set::stress::common::v1::{HttpRequest, Page, http_request};
use greeter_tests::stress_set::stress::r#type::Kind;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::Server;
use tonic::{Request, Response, Status, Streaming};

type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

struct Everything;

impl everything_server::Everything for Everything {
    async fn ping(&self, _: Request<()>) -> Result<Response<prost_types::Timestamp>, Status> {
        Ok(Response::new(prost_types::Timestamp {
            seconds: 42,
            nanos: 7,
        }))
    }

    type ListStream = Boxed<Item>;

    async fn list(&self, request: Request<Page>) -> Result<Response<Self::ListStream>, Status> {
        let size = request.into_inner().size.unwrap_or(2);
        let items = (0..size).map(|i| {
            Ok(Item {
                id: i.to_string(),
                ..Default::default()
            })
        });
        Ok(Response::new(Box::pin(tokio_stream::iter(items))))
    }

    async fn upload(&self, request: Request<Streaming<Item>>) -> Result<Response<Page>, Status> {
        let mut ids = Vec::new();
        let mut stream = request.into_inner();
        while let Some(item) = stream.next().await {
            ids.push(item?.id);
        }
        Ok(Response::new(Page {
            cursor: ids.join(","),
            size: Some(ids.len() as u32),
            ..Default::default()
        }))
    }

    type ChatStream = Boxed<HttpRequest>;

    async fn chat(
        &self,
        request: Request<Streaming<HttpRequest>>,
    ) -> Result<Response<Self::ChatStream>, Status> {
        let echoed = request.into_inner().map(|message| {
            message.map(|mut m| {
                m.r#async = !m.r#async;
                m
            })
        });
        Ok(Response::new(Box::pin(echoed)))
    }

    async fn old_ping(&self, _: Request<()>) -> Result<Response<()>, Status> {
        Ok(Response::new(()))
    }

    async fn r#type(&self, request: Request<Kind>) -> Result<Response<Kind>, Status> {
        Ok(Response::new(Kind {
            name: format!("Type:{}", request.into_inner().name),
        }))
    }

    async fn type_2(&self, request: Request<Kind>) -> Result<Response<Kind>, Status> {
        Ok(Response::new(Kind {
            name: format!("type:{}", request.into_inner().name),
        }))
    }

    async fn self_(&self, request: Request<Item>) -> Result<Response<Item>, Status> {
        Ok(Response::new(request.into_inner()))
    }

    async fn r#async(&self, request: Request<Item>) -> Result<Response<Item>, Status> {
        let mut item = request.into_inner();
        item.label = Some("async".to_owned());
        Ok(Response::new(item))
    }
}

struct Nothing;
impl greeter_tests::stress_set::stress::api::v1::nothing_server::Nothing for Nothing {}

async fn serve() -> SocketAddr {
    let router = Server::builder()
        .add_service(everything_server::EverythingServer::new(Everything))
        .add_service(NothingServer::new(Nothing));
    greeter_tests::net::serve(router).await
}

#[tokio::test]
async fn every_kind_and_odd_name_round_trips() {
    let addr = serve().await;
    let mut client = EverythingClient::connect(format!("http://{addr}"))
        .await
        .unwrap();

    let time = client.ping(()).await.unwrap().into_inner();
    assert_eq!((time.seconds, time.nanos), (42, 7));
    client.old_ping(()).await.unwrap();

    let ids: Vec<String> = client
        .list(Page {
            size: Some(3),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .map(|item| item.unwrap().id)
        .collect()
        .await;
    assert_eq!(ids, ["0", "1", "2"]);

    let items = ["a", "b"].map(|id| Item {
        id: id.to_owned(),
        ..Default::default()
    });
    let page = client
        .upload(tokio_stream::iter(items))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((page.cursor.as_str(), page.size), ("a,b", Some(2)));

    let request = HttpRequest {
        r#type: "GET".to_owned(),
        r#async: false,
        body: Some(http_request::Body::Text("hi".to_owned())),
        ..Default::default()
    };
    let replies: Vec<HttpRequest> = client
        .chat(tokio_stream::iter([request.clone()]))
        .await
        .unwrap()
        .into_inner()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(
        replies,
        [HttpRequest {
            r#async: true,
            ..request
        }]
    );

    let kind = Kind {
        name: "k".to_owned(),
    };
    assert_eq!(
        client.r#type(kind.clone()).await.unwrap().into_inner().name,
        "Type:k"
    );
    assert_eq!(
        client.type_2(kind).await.unwrap().into_inner().name,
        "type:k"
    );
    let item = Item {
        id: "s".to_owned(),
        ..Default::default()
    };
    assert_eq!(client.self_(item.clone()).await.unwrap().into_inner(), item);
    assert_eq!(
        client
            .r#async(item)
            .await
            .unwrap()
            .into_inner()
            .label
            .as_deref(),
        Some("async")
    );
}

#[test]
fn method_constants_carry_kinds_and_idempotency() {
    let ping = everything_methods::PING;
    assert_eq!(ping.path(), "/stress.api.v1.Everything/Ping");
    assert_eq!(ping.idempotency(), Idempotency::NoSideEffects);
    assert_eq!(
        everything_methods::UPLOAD.idempotency(),
        Idempotency::Idempotent
    );
    assert_eq!(
        everything_methods::CHAT.kind(),
        StreamingKind::BidiStreaming
    );
    assert_eq!(
        everything_methods::TYPE.path(),
        "/stress.api.v1.Everything/Type"
    );
    assert_eq!(
        everything_methods::TYPE_2.path(),
        "/stress.api.v1.Everything/type"
    );
    assert_eq!(everything_methods::METHODS.len(), 9);
    assert!(nothing_methods::METHODS.is_empty());
    assert_eq!(nothing_methods::SERVICE_NAME, "stress.api.v1.Nothing");
}

/// Wrapper types are Rust primitives (`BoolValue` is `bool`), seen from the generated modules
/// as they are, not through `super::`.
struct Wrapped;

impl wrapped_server::Wrapped for Wrapped {
    async fn flag(&self, request: Request<bool>) -> Result<Response<u64>, Status> {
        Ok(Response::new(u64::from(request.into_inner()) + 40))
    }

    type NamesStream = Boxed<Vec<u8>>;
    async fn names(&self, request: Request<String>) -> Result<Response<Self::NamesStream>, Status> {
        let names: Vec<Result<Vec<u8>, Status>> = request
            .into_inner()
            .split(',')
            .map(|name| Ok(name.as_bytes().to_vec()))
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(names))))
    }
}

#[tokio::test]
async fn wrapper_types_travel_as_primitives() {
    let router = Server::builder().add_service(wrapped_server::WrappedServer::new(Wrapped));
    let addr = greeter_tests::net::serve(router).await;
    let mut client = WrappedClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    assert_eq!(client.flag(true).await.unwrap().into_inner(), 41);
    let names: Vec<Vec<u8>> = client
        .names("a,bc".to_owned())
        .await
        .unwrap()
        .into_inner()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(names, [b"a".to_vec(), b"bc".to_vec()]);
}
