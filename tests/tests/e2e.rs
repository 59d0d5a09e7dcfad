//! End to end against the example server (`greeter_examples::server`), through the example
//! client library: all four modes, token auth, the per-name quota with its QuotaFailure detail,
//! and a malformed `request-id`.

use greeter_examples::client::{self, ClientConfig, GreeterClient};
use greeter_examples::pb::{HelloRequest, greeter_contract};
use greeter_examples::server::{self, LocalServer, ServerConfig};
use greeter_runtime::status::{Details, QuotaFailure};
use tonic::Code;

/// The example server with `quota` calls per name; dropping it shuts the server down.
async fn start(quota: u32) -> LocalServer {
    LocalServer::start(ServerConfig {
        quota,
        ..ServerConfig::default()
    })
    .await
    .expect("server starts")
}

async fn connect(server: &LocalServer, token: &str) -> GreeterClient {
    client::connect(&ClientConfig {
        addr: format!("http://{}", server.addr),
        token: token.to_owned(),
        ..ClientConfig::default()
    })
    .await
    .expect("connects")
}

#[tokio::test]
async fn all_four_modes_behave_as_designed() {
    let server = start(0).await;
    let mut client = connect(&server, server::DEFAULT_TOKEN).await;

    let hello = client::say_hello(&mut client, "Ann").await.unwrap();
    assert_eq!(hello.message, "Hello Ann");
    assert_eq!(hello.headers.get("location").unwrap(), "BeiJing");
    // The trailer comes apart from the headers, on a successful unary call.
    let stamp = |trailers: &tonic::metadata::MetadataMap| -> u64 {
        trailers
            .get("timestamp")
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(stamp(&hello.trailers) > 1_700_000_000);
    assert!(hello.headers.get("timestamp").is_none());

    let replies = client::lots_of_replies(&mut client, "Bo").await.unwrap();
    assert_eq!(
        replies.message,
        ["你好Bo", "helloBo", "こんにちはBo", "안녕하세요Bo"]
    );

    let greetings = client::lots_of_greetings(&mut client, vec!["张三".into(), "李四".into()])
        .await
        .unwrap();
    assert_eq!(greetings.message, "你好：张三李四");

    let lines = vec!["你好吗？".to_owned(), "在吧?".to_owned(), "hi".to_owned()];
    let bidi = client::bidi_lines(&mut client, lines).await.unwrap();
    assert_eq!(bidi.message, ["我好!", "在!", "hi"]);
    assert_eq!(bidi.headers.get("location").unwrap(), "BeiJing");
    assert!(stamp(&bidi.trailers) >= stamp(&hello.trailers));
}

#[tokio::test]
async fn calls_without_the_token_are_unauthenticated_in_every_mode() {
    let server = start(0).await;
    let mut client = connect(&server, "wrong-token").await;
    let status = client::say_hello(&mut client, "x").await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "invalid token");
    let status = client::lots_of_replies(&mut client, "x").await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = client::lots_of_greetings(&mut client, vec!["x".into()])
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = client::bidi_lines(&mut client, vec!["x".into()])
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    // No credentials at all: the generated client without interceptors.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut bare = greeter_examples::pb::greeter_client::GreeterClient::new(channel);
    let status = bare
        .say_hello(HelloRequest { name: "x".into() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "missing authorization metadata");
}

#[tokio::test]
async fn quota_exhaustion_carries_a_quota_failure_detail() {
    let server = start(1).await;
    let mut client = connect(&server, server::DEFAULT_TOKEN).await;
    assert_eq!(
        client::say_hello(&mut client, "Cy").await.unwrap().message,
        "Hello Cy"
    );
    let status = client::say_hello(&mut client, "Cy").await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(status.message(), "Request limit exceeded.");
    let details = Details::of(&status).unwrap();
    let quota = details
        .get::<QuotaFailure>()
        .expect("a QuotaFailure detail")
        .unwrap();
    assert_eq!(quota.violations.len(), 1);
    assert_eq!(quota.violations[0].subject, "name:Cy");
    // The declared `timestamp` trailer rides on the error too.
    let trailer = greeter_contract::say_hello::Trailer::from_metadata(status.metadata()).unwrap();
    assert!(trailer.timestamp > 1_700_000_000, "{trailer:?}");
    // Other names still have their quota, and the server keeps serving.
    assert_eq!(
        client::say_hello(&mut client, "Di").await.unwrap().message,
        "Hello Di"
    );
}

#[tokio::test]
async fn malformed_request_id_is_invalid_argument_naming_the_key() {
    let server = start(0).await;
    let mut client = connect(&server, server::DEFAULT_TOKEN).await;
    let mut request = tonic::Request::new(HelloRequest { name: "x".into() });
    request
        .metadata_mut()
        .insert("request-id", "abc".parse().unwrap());
    let status = client::say_hello_request(&mut client, request)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "invalid metadata `request-id`: expected int64, got \"abc\" (invalid digit found in string)"
    );

    let mut request = tonic::Request::new(HelloRequest { name: "x".into() });
    request
        .metadata_mut()
        .insert("request-id", "42".parse().unwrap());
    let reply = client::say_hello_request(&mut client, request)
        .await
        .unwrap();
    assert_eq!(reply.message, "Hello x");
}
