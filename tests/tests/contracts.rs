//! Generated error contracts: every declared variant of the stress set's `Contracted.Fetch` (a
//! service default, a nested detail from another package, a code declared twice, a detail of
//! this package, a google.rpc detail) goes to a `Status` and back unchanged; undeclared
//! statuses and declared codes without their detail are `Other` or the bare variant; and the
//! Greeter's SayHello error crosses the wire from a handler's `?` to the client's `from_status`.

use std::pin::Pin;

use greeter_runtime::status::{BadRequest, Details, RetryInfo, bad_request};
use greeter_tests::greeter::greeter_client::GreeterClient;
use greeter_tests::greeter::greeter_contract::say_hello;
use greeter_tests::greeter::greeter_server::{Greeter, GreeterServer};
use greeter_tests::greeter::{HelloRequest, HelloResponse};
use greeter_tests::net;
use greeter_tests::stress_set::stress::api::v1::Item;
use greeter_tests::stress_set::stress::api::v1::contracted_contract::{fetch, plain};
use greeter_tests::stress_set::stress::common::v1::page::Window;
use tokio_stream::Stream;
use tonic::transport::Server;
use tonic::{Code, Request, Response, Status, Streaming};

fn round_trip(error: fetch::Error) -> (Status, fetch::Error) {
    let status: Status = error.into();
    let back = fetch::Error::from_status(&status);
    (status, back)
}

#[test]
fn every_declared_variant_survives_a_round_trip() {
    let window = Window {
        start: None,
        length: Some(prost_types::Duration {
            seconds: 5,
            nanos: 0,
        }),
    };
    let (status, back) = round_trip(fetch::Error::NotFoundWindow {
        message: "no such window".into(),
        detail: window,
    });
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(status.message(), "no such window");
    let fetch::Error::NotFoundWindow { message, detail } = back else {
        panic!("{back:?}");
    };
    assert_eq!((message.as_str(), detail), ("no such window", window));

    let (status, back) = round_trip(fetch::Error::NotFound {
        message: "gone".into(),
    });
    assert!(status.details().is_empty());
    assert!(matches!(back, fetch::Error::NotFound { ref message } if message == "gone"));

    let item = Item {
        id: "i-1".into(),
        ..Default::default()
    };
    let (_, back) = round_trip(fetch::Error::FailedPrecondition {
        message: "locked".into(),
        detail: item.clone(),
    });
    assert!(matches!(back, fetch::Error::FailedPrecondition { detail, .. } if detail == item));

    let bad = BadRequest {
        field_violations: vec![bad_request::FieldViolation {
            field: "id".into(),
            description: "empty".into(),
            ..Default::default()
        }],
    };
    let (_, back) = round_trip(fetch::Error::InvalidArgument {
        message: "bad".into(),
        detail: bad.clone(),
    });
    assert!(matches!(back, fetch::Error::InvalidArgument { detail, .. } if detail == bad));

    // The service default reaches every method, streaming ones too.
    let retry = RetryInfo {
        retry_delay: Some(prost_types::Duration {
            seconds: 1,
            nanos: 0,
        }),
    };
    let (_, back) = round_trip(fetch::Error::Unavailable {
        message: "later".into(),
        detail: retry,
    });
    assert!(matches!(back, fetch::Error::Unavailable { detail, .. } if detail == retry));
    let status: Status = plain::Error::Unavailable {
        message: "later".into(),
        detail: retry,
    }
    .into();
    assert!(matches!(
        plain::Error::from_status(&status),
        plain::Error::Unavailable { detail, .. } if detail == retry
    ));
}

#[test]
fn what_the_contract_does_not_declare_is_other() {
    let undeclared = Status::permission_denied("no");
    let error = fetch::Error::from_status(&undeclared);
    assert!(matches!(&error, fetch::Error::Other(s) if s.code() == Code::PermissionDenied));
    assert_eq!(error.code(), Code::PermissionDenied);
    assert_eq!(error.to_string(), "PermissionDenied: no");

    // A declared code with a detail of another type: the bare variant if declared, else Other.
    let status = Details::new()
        .with(RetryInfo::default())
        .into_status(Code::NotFound, "elsewhere");
    assert!(matches!(
        fetch::Error::from_status(&status),
        fetch::Error::NotFound { .. }
    ));
    let status = Status::unavailable("no detail");
    assert!(matches!(
        fetch::Error::from_status(&status),
        fetch::Error::Other(_)
    ));
    // Other goes back to the very status.
    let back: Status = fetch::Error::from_status(&status).into();
    assert_eq!(
        (back.code(), back.message()),
        (Code::Unavailable, "no detail")
    );
}

/// A Greeter whose SayHello always fails with its declared error, through `?`.
struct Exhausted;

type ReplyStream = Pin<Box<dyn Stream<Item = Result<HelloResponse, Status>> + Send>>;

impl Greeter for Exhausted {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloResponse>, Status> {
        let name = request.into_inner().name;
        Err(say_hello::Error::ResourceExhausted {
            message: "Request limit exceeded.".into(),
            detail: greeter_runtime::status::QuotaFailure {
                violations: vec![greeter_runtime::status::quota_failure::Violation {
                    subject: format!("name:{name}"),
                    ..Default::default()
                }],
            },
        })?
    }

    type LotsOfRepliesStream = ReplyStream;

    async fn lots_of_replies(
        &self,
        _: Request<HelloRequest>,
    ) -> Result<Response<ReplyStream>, Status> {
        Err(Status::unimplemented("not here"))
    }

    async fn lots_of_greetings(
        &self,
        _: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<HelloResponse>, Status> {
        Err(Status::unimplemented("not here"))
    }

    type BidiHelloStream = ReplyStream;

    async fn bidi_hello(
        &self,
        _: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<ReplyStream>, Status> {
        Err(Status::unimplemented("not here"))
    }
}

#[tokio::test]
async fn a_declared_error_crosses_the_wire() {
    let addr = net::serve(Server::builder().add_service(GreeterServer::new(Exhausted))).await;
    let mut client = GreeterClient::new(net::channel(addr).await);
    let status = client
        .say_hello(HelloRequest { name: "Ann".into() })
        .await
        .unwrap_err();
    match say_hello::Error::from_status(&status) {
        say_hello::Error::ResourceExhausted { message, detail } => {
            assert_eq!(message, "Request limit exceeded.");
            assert_eq!(detail.violations[0].subject, "name:Ann");
        }
        other => panic!("{other:?}"),
    }
}
