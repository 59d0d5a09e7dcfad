//! Typed metadata contracts on real calls: the stress set's `Typed` service declares request
//! metadata, headers and trailers of every value type for all four modes. A tonic client writes
//! the request metadata with the generated struct; the server (`greeter_tests::typed::Echo`)
//! reads it with the generated struct and echoes it as headers and trailers, which the client
//! reads back apart. Missing and malformed values are refused before the handler runs.

use std::time::{Duration, UNIX_EPOCH};

use greeter_runtime::metadata::ResponseExt;
use greeter_tests::net;
use greeter_tests::stress_set::stress::api::v1::Item;
use greeter_tests::stress_set::stress::api::v1::typed_client::TypedClient;
use greeter_tests::stress_set::stress::api::v1::typed_contract::{
    Header, RequestMetadata, Trailer, strict, unary,
};
use greeter_tests::stress_set::stress::api::v1::typed_server::TypedServer;
use greeter_tests::stress_set::stress::common::v1::page::{Order, Window};
use greeter_tests::typed::{self, Echo};
use tonic::codegen::http::HeaderValue;
use tonic::metadata::{BinaryMetadataValue, MetadataMap};
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Status};

/// Request metadata with every field set, values chosen to be awkward on the wire.
fn full() -> RequestMetadata {
    RequestMetadata {
        r_string: " 北京, 100% sure\n ".to_owned(),
        r_int64: Some(i64::MIN),
        r_uint64: Some(u64::MAX),
        r_bool: Some(false),
        r_double: Some(-0.1),
        r_bytes: Some(vec![0, 0xff, 0xfe, b'\n', 0x80]),
        r_duration: Some(Duration::new(90, 5)),
        r_timestamp: Some(UNIX_EPOCH - Duration::new(86_400 * 365, 123_456_789)),
        r_enum: Some(Order::Descending),
        r_message: Some(Window {
            start: Some(prost_types::Timestamp {
                seconds: 1,
                nanos: 2,
            }),
            length: Some(prost_types::Duration {
                seconds: 3,
                nanos: 4,
            }),
        }),
        r_tag: vec!["first".to_owned(), "second, with a comma".to_owned()],
    }
}

/// Only the required field.
fn minimal() -> RequestMetadata {
    RequestMetadata {
        r_string: String::new(),
        r_int64: None,
        r_uint64: None,
        r_bool: None,
        r_double: None,
        r_bytes: None,
        r_duration: None,
        r_timestamp: None,
        r_enum: None,
        r_message: None,
        r_tag: Vec::new(),
    }
}

fn item(id: &str) -> Item {
    Item {
        id: id.to_owned(),
        ..Item::default()
    }
}

fn request<T>(message: T, metadata: &RequestMetadata) -> Request<T> {
    let mut request = Request::new(message);
    metadata.write_to(request.metadata_mut());
    request
}

async fn start() -> (Echo, TypedClient<Channel>) {
    let echo = Echo::default();
    let router = Server::builder().add_service(TypedServer::new(echo.clone()));
    let addr = net::serve(router).await;
    (echo, TypedClient::new(net::channel(addr).await))
}

/// The headers and trailers of one call hold the echo, each apart from the other.
fn assert_echoed(sent: &RequestMetadata, headers: &MetadataMap, trailers: &MetadataMap) {
    assert_eq!(Header::from_metadata(headers).unwrap(), typed::header(sent));
    assert_eq!(
        Trailer::from_metadata(trailers).unwrap(),
        typed::trailer(sent)
    );
    // Neither carries the other's keys.
    let error = Trailer::from_metadata(headers).unwrap_err();
    assert_eq!(
        error.to_string(),
        "missing metadata `t-string`: expected string"
    );
    let error = Header::from_metadata(trailers).unwrap_err();
    assert_eq!(
        error.to_string(),
        "missing metadata `h-string`: expected string"
    );
}

#[tokio::test]
async fn every_type_round_trips_in_all_four_modes() {
    let (echo, mut client) = start().await;
    for sent in [full(), minimal()] {
        let response = client.unary(request(item("u"), &sent)).await.unwrap();
        let trailers = response.trailers().unwrap();
        assert_echoed(&sent, response.metadata(), &trailers);
        // The generated accessors read the same from the response itself.
        assert_eq!(
            Header::from_response(&response).unwrap(),
            typed::header(&sent)
        );
        assert_eq!(
            Trailer::from_response(&response).unwrap(),
            typed::trailer(&sent)
        );
        assert_eq!(response.get_ref().id, "u");

        let response = client
            .server_stream(request(item("s"), &sent))
            .await
            .unwrap();
        let headers = response.metadata().clone();
        let mut stream = response.into_inner();
        let mut ids = Vec::new();
        while let Some(next) = stream.message().await.unwrap() {
            ids.push(next.id);
        }
        assert_eq!(ids, ["s 1", "s 2"]);
        let trailers = stream.trailers().await.unwrap().unwrap();
        assert_echoed(&sent, &headers, &trailers);

        let items = tokio_stream::iter([item("a"), item("b")]);
        let response = client.client_stream(request(items, &sent)).await.unwrap();
        assert_eq!(response.get_ref().id, "a b");
        assert_echoed(&sent, response.metadata(), &response.trailers().unwrap());

        let items = tokio_stream::iter([item("x"), item("y")]);
        let response = client.bidi(request(items, &sent)).await.unwrap();
        let headers = response.metadata().clone();
        let mut stream = response.into_inner();
        let mut ids = Vec::new();
        while let Some(next) = stream.message().await.unwrap() {
            ids.push(next.id);
        }
        assert_eq!(ids, ["re x", "re y"]);
        let trailers = stream.trailers().await.unwrap().unwrap();
        assert_echoed(&sent, &headers, &trailers);
    }
    assert_eq!(echo.handled(), 8);
}

/// A change to a request's metadata.
type Edit = dyn Fn(&mut MetadataMap);

/// A request with every field set, then edited by `edit`.
fn edited<T>(message: T, edit: &Edit) -> Request<T> {
    let mut request = request(message, &full());
    edit(request.metadata_mut());
    request
}

/// The status each mode's call ends with, its request metadata edited by `edit`.
async fn call_each_mode(client: &mut TypedClient<Channel>, edit: &Edit) -> Vec<Status> {
    let items = || tokio_stream::iter([item("a")]);
    vec![
        client.unary(edited(item("u"), edit)).await.unwrap_err(),
        client
            .server_stream(edited(item("s"), edit))
            .await
            .unwrap_err(),
        client
            .client_stream(edited(items(), edit))
            .await
            .unwrap_err(),
        client.bidi(edited(items(), edit)).await.unwrap_err(),
    ]
}

#[tokio::test]
async fn missing_and_malformed_values_are_refused_before_the_handler_naming_the_key() {
    let (echo, mut client) = start().await;
    let cases: Vec<(Box<Edit>, &str)> = vec![
        (
            Box::new(|m| {
                m.remove("r-string");
            }),
            "missing metadata `r-string`: expected string",
        ),
        (
            Box::new(|m| {
                m.insert("r-int64", "abc".parse().unwrap());
            }),
            "invalid metadata `r-int64`: expected int64, got \"abc\" (invalid digit found in string)",
        ),
        (
            Box::new(|m| {
                m.insert("r-uint64", "-1".parse().unwrap());
            }),
            "invalid metadata `r-uint64`: expected uint64, got \"-1\" (invalid digit found in string)",
        ),
        (
            Box::new(|m| {
                m.insert("r-bool", "yes".parse().unwrap());
            }),
            "invalid metadata `r-bool`: expected bool, got \"yes\" (neither `true` nor `false`)",
        ),
        (
            Box::new(|m| {
                m.insert("r-duration", "-2s".parse().unwrap());
            }),
            "invalid metadata `r-duration`: expected duration, got \"-2s\" (a negative duration)",
        ),
        (
            Box::new(|m| {
                m.insert("r-timestamp", "tomorrow".parse().unwrap());
            }),
            "invalid metadata `r-timestamp`: expected timestamp, got \"tomorrow\" (not an RFC 3339 time such as `2026-11-23T10:00:00Z`)",
        ),
        (
            Box::new(|m| {
                m.insert("r-enum", "ORDER_SIDEWAYS".parse().unwrap());
            }),
            "invalid metadata `r-enum`: expected stress.common.v1.Page.Order, got \"ORDER_SIDEWAYS\" (no value of stress.common.v1.Page.Order is named so)",
        ),
        (
            Box::new(|m| {
                m.insert_bin(
                    "r-message-bin",
                    BinaryMetadataValue::from_bytes(b"\x0a\xff"),
                );
            }),
            "invalid metadata `r-message-bin`: expected stress.common.v1.Page.Window, got 2 bytes (failed to decode Protobuf message: Window.start: invalid varint)",
        ),
        (
            Box::new(|m| {
                // Not base64: set below tonic's binary metadata API, which would encode it.
                let mut headers = std::mem::take(m).into_headers();
                headers.insert("r-bytes-bin", HeaderValue::from_static("!!not base64!!"));
                *m = MetadataMap::from_headers(headers);
            }),
            "invalid metadata `r-bytes-bin`: expected bytes, got \"!!not base64!!\" (not base64)",
        ),
        (
            Box::new(|m| {
                m.append("r-int64", "7".parse().unwrap());
            }),
            "metadata `r-int64` has 2 values: expected one int64",
        ),
        (
            Box::new(|m| {
                m.insert("r-string", "caf%C3".parse().unwrap());
            }),
            "invalid metadata `r-string`: expected string, got \"caf\u{fffd}\" (not UTF-8)",
        ),
    ];
    for (edit, message) in &cases {
        for status in call_each_mode(&mut client, edit.as_ref()).await {
            assert_eq!(status.code(), Code::InvalidArgument, "{message}");
            assert_eq!(status.message(), *message);
        }
    }
    assert_eq!(echo.handled(), 0, "a refused call reached a handler");
    // The server keeps serving.
    let response = client.unary(request(item("ok"), &full())).await.unwrap();
    assert_eq!(response.get_ref().id, "ok");
}

#[tokio::test]
async fn a_method_key_replaces_the_service_default() {
    let (echo, mut client) = start().await;
    // Strict makes `r-int64` required: the same metadata Unary accepts is refused.
    let sent = minimal();
    client.unary(request(item("u"), &sent)).await.unwrap();
    let status = client.strict(request(item("s"), &sent)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "missing metadata `r-int64`: expected int64"
    );
    assert_eq!(echo.handled(), 1);

    let mut metadata = MetadataMap::new();
    strict::RequestMetadata {
        r_int64: 42,
        r_string: "s".to_owned(),
        ..strict_from(minimal())
    }
    .write_to(&mut metadata);
    let mut call = Request::new(item("s"));
    *call.metadata_mut() = metadata;
    assert_eq!(client.strict(call).await.unwrap().get_ref().id, "42");
    // A method without its own fields shares the service's struct (a type check: this only
    // compiles while `unary::RequestMetadata` is the service's `RequestMetadata`).
    let _shared: unary::RequestMetadata = minimal();
}

/// The strict struct with the fields `m` has and `r-int64` zero.
fn strict_from(m: RequestMetadata) -> strict::RequestMetadata {
    strict::RequestMetadata {
        r_string: m.r_string,
        r_int64: m.r_int64.unwrap_or_default(),
        r_uint64: m.r_uint64,
        r_bool: m.r_bool,
        r_double: m.r_double,
        r_bytes: m.r_bytes,
        r_duration: m.r_duration,
        r_timestamp: m.r_timestamp,
        r_enum: m.r_enum,
        r_message: m.r_message,
        r_tag: m.r_tag,
    }
}

#[tokio::test]
async fn trailers_ride_on_errors_in_all_four_modes() {
    let (echo, mut client) = start().await;
    let fail: &Edit = &|m| {
        m.append("r-tag", typed::FAIL_TAG.parse().unwrap());
    };
    let mut sent = full();
    sent.r_tag.push(typed::FAIL_TAG.to_owned());
    for status in call_each_mode(&mut client, fail).await {
        assert_eq!(status.code(), Code::Aborted);
        assert_eq!(status.message(), "tagged to fail");
        let trailer = Trailer::from_metadata(status.metadata()).unwrap();
        assert_eq!(trailer, typed::trailer(&sent));
    }
    assert_eq!(echo.handled(), 4);
}
