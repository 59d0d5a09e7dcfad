//! The generated client against a raw HTTP/2 server that lies in its final status: details that
//! are not base64, not a google.rpc.Status or of another code, a `grpc-message` that is not
//! UTF-8, a `grpc-status` that is not a code. In all four modes, as trailers after replies and
//! as a trailers-only answer, every call must end in a `Status` with the server's code that
//! says what was wrong, the replies before it must arrive, and nothing may panic (tonic 0.14
//! alone panics on the first lie).

use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use greeter_runtime::status::{Details, REJECTED_DETAILS};
use greeter_tests::greeter::greeter_client::GreeterClient;
use greeter_tests::greeter::{HelloRequest, HelloResponse};
use greeter_tests::net;
use http::{HeaderMap, HeaderValue};
use prost::Message;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

/// Replies the lying server sends before its final status, in streaming answers.
const REPLIES: usize = 2;

/// One lie: the final status fields the server sends, and what the client must make of them.
struct Lie {
    name: &'static str,
    fields: Vec<(&'static str, Vec<u8>)>,
    code: Code,
    /// Text the status message must contain.
    says: &'static str,
    /// Whether the details header is kept aside in the status metadata.
    sets_details_aside: bool,
}

fn base64(bytes: &[u8]) -> Vec<u8> {
    let mut metadata = tonic::metadata::MetadataMap::new();
    metadata.insert_bin("x-bin", tonic::metadata::MetadataValue::from_bytes(bytes));
    metadata
        .get_bin("x-bin")
        .unwrap()
        .as_encoded_bytes()
        .to_vec()
}

fn lies() -> Vec<Lie> {
    let other_code = tonic_types::pb::Status {
        code: Code::InvalidArgument as i32,
        message: "not what grpc-status says".into(),
        details: vec![],
    };
    vec![
        Lie {
            name: "details not base64",
            fields: vec![
                ("grpc-status", b"8".to_vec()),
                ("grpc-message", b"slow down".to_vec()),
                ("grpc-status-details-bin", b"***".to_vec()),
            ],
            code: Code::ResourceExhausted,
            says: "slow down [grpc-status-details-bin set aside: not base64]",
            sets_details_aside: true,
        },
        Lie {
            name: "details not a google.rpc.Status",
            fields: vec![
                ("grpc-status", b"5".to_vec()),
                ("grpc-status-details-bin", base64(&[0xff, 0xff, 0xff])),
            ],
            code: Code::NotFound,
            says: "not a google.rpc.Status",
            sets_details_aside: true,
        },
        Lie {
            name: "details of another code",
            fields: vec![
                ("grpc-status", b"9".to_vec()),
                (
                    "grpc-status-details-bin",
                    base64(&other_code.encode_to_vec()),
                ),
            ],
            code: Code::FailedPrecondition,
            says: "its code 3 disagrees with grpc-status 9",
            sets_details_aside: true,
        },
        Lie {
            name: "percent-encoded message not UTF-8",
            fields: vec![
                ("grpc-status", b"14".to_vec()),
                ("grpc-message", b"down %FF%FE".to_vec()),
            ],
            code: Code::Unavailable,
            says: "down \u{FFFD}\u{FFFD} [grpc-message is not UTF-8 once percent-decoded]",
            sets_details_aside: false,
        },
        Lie {
            name: "raw message bytes not UTF-8",
            fields: vec![
                ("grpc-status", b"13".to_vec()),
                ("grpc-message", b"raw \xff".to_vec()),
            ],
            code: Code::Internal,
            says: "grpc-message is not UTF-8",
            sets_details_aside: false,
        },
        Lie {
            name: "status not a code",
            fields: vec![
                ("grpc-status", b"banana".to_vec()),
                ("grpc-message", b"peeled".to_vec()),
            ],
            code: Code::Unknown,
            says: "peeled [grpc-status `banana` is not a status code]",
            sets_details_aside: false,
        },
    ]
}

fn header_map(fields: &[(&'static str, Vec<u8>)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in fields {
        map.insert(*name, HeaderValue::from_bytes(value).unwrap());
    }
    map
}

/// A framed `HelloResponse`.
fn reply(text: String) -> Bytes {
    let message = HelloResponse { reply: text }.encode_to_vec();
    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.put_u8(0);
    frame.put_u32(message.len().try_into().unwrap());
    frame.put_slice(&message);
    frame.freeze()
}

/// Serves every call the lie its `x-lie` header names: as trailers after `REPLIES` replies
/// (one for unary and client-streaming methods), or with `x-trailers-only` in the head.
async fn lying_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let Ok(mut connection) = h2::server::handshake(tcp).await else {
                    return;
                };
                while let Some(Ok((request, respond))) = connection.accept().await {
                    tokio::spawn(answer(request, respond));
                }
            });
        }
    });
    addr
}

async fn answer(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
) {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let lie = &lies()[header("x-lie").unwrap().parse::<usize>().unwrap()];
    let trailers_only = header("x-trailers-only").is_some();
    let path = request.uri().path().to_owned();
    // Read (and drop) whatever the client sends, so its stream never stalls.
    let mut body = request.into_body();
    tokio::spawn(async move {
        while let Some(Ok(data)) = body.data().await {
            let _ = body.flow_control().release_capacity(data.len());
        }
    });
    let mut head = http::Response::builder()
        .status(200)
        .header("content-type", "application/grpc")
        .body(())
        .unwrap();
    if trailers_only {
        head.headers_mut().extend(header_map(&lie.fields));
        let _ = respond.send_response(head, true);
        return;
    }
    let Ok(mut send) = respond.send_response(head, false) else {
        return;
    };
    let replies = if path.ends_with("/SayHello") || path.ends_with("/LotsOfGreetings") {
        1
    } else {
        REPLIES
    };
    for i in 0..replies {
        let _ = send.send_data(reply(format!("reply {i}")), false);
    }
    let _ = send.send_trailers(header_map(&lie.fields));
}

fn request<T>(message: T, lie: usize, trailers_only: bool) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("x-lie", lie.to_string().parse().unwrap());
    if trailers_only {
        request
            .metadata_mut()
            .insert("x-trailers-only", "1".parse().unwrap());
    }
    request
}

fn hello() -> HelloRequest {
    HelloRequest {
        name: "liar".into(),
    }
}

fn three_hellos() -> impl tokio_stream::Stream<Item = HelloRequest> + Send + 'static {
    tokio_stream::iter((0..3).map(|_| hello()))
}

/// Checks the status a call ended with against the lie.
fn check(lie: &Lie, mode: &str, status: &Status) {
    let context = format!("{} / {mode}: {status:?}", lie.name);
    assert_eq!(status.code(), lie.code, "{context}");
    assert!(status.message().contains(lie.says), "{context}");
    assert!(
        Details::of(status).is_ok(),
        "details always decode: {context}"
    );
    assert_eq!(
        status.metadata().get_bin(REJECTED_DETAILS).is_some(),
        lie.sets_details_aside,
        "{context}"
    );
}

/// Collects a reply stream: the replies before its end, and the status it ended with.
async fn drain(mut stream: tonic::Streaming<HelloResponse>) -> (Vec<String>, Option<Status>) {
    let mut replies = Vec::new();
    loop {
        match stream.message().await {
            Ok(Some(reply)) => replies.push(reply.reply),
            Ok(None) => return (replies, None),
            Err(status) => return (replies, Some(status)),
        }
    }
}

async fn every_mode(client: &mut GreeterClient<Channel>, index: usize, trailers_only: bool) {
    let lie = &lies()[index];
    let expected_replies: Vec<String> = if trailers_only {
        Vec::new()
    } else {
        (0..REPLIES).map(|i| format!("reply {i}")).collect()
    };
    let shape = if trailers_only {
        "trailers-only"
    } else {
        "trailers"
    };

    let status = client
        .say_hello(request(hello(), index, trailers_only))
        .await
        .unwrap_err();
    check(lie, &format!("unary, {shape}"), &status);

    let status = client
        .lots_of_greetings(request(three_hellos(), index, trailers_only))
        .await
        .unwrap_err();
    check(lie, &format!("client streaming, {shape}"), &status);

    for bidi in [false, true] {
        let mode = if bidi { "bidi" } else { "server streaming" };
        let outcome = if bidi {
            client
                .bidi_hello(request(three_hellos(), index, trailers_only))
                .await
        } else {
            client
                .lots_of_replies(request(hello(), index, trailers_only))
                .await
        };
        let status = match outcome {
            // A trailers-only answer ends the call before any stream.
            Err(status) => {
                assert!(trailers_only, "{} / {mode}: {status:?}", lie.name);
                status
            }
            Ok(response) => {
                let (replies, status) = drain(response.into_inner()).await;
                assert_eq!(replies, expected_replies, "{} / {mode}", lie.name);
                status.expect("the stream ends in the lie's status")
            }
        };
        check(lie, &format!("{mode}, {shape}"), &status);
    }
}

#[tokio::test]
async fn no_lie_in_a_final_status_crashes_the_client() {
    let addr = lying_server().await;
    let mut client = GreeterClient::new(net::channel(addr).await);
    for index in 0..lies().len() {
        for trailers_only in [false, true] {
            every_mode(&mut client, index, trailers_only).await;
        }
    }
}

#[tokio::test]
async fn the_same_lies_with_call_interceptors_installed() {
    // The client's end hooks read the final status too: they must get the repaired one.
    use greeter_runtime::Interceptors;
    use greeter_runtime::interceptor::{CallContext, CallInterceptor};
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Ends(Mutex<Vec<Code>>);
    struct Record(Arc<Ends>);
    impl CallInterceptor for Record {
        fn on_end(&self, _: &CallContext, status: &Status) {
            self.0.0.lock().unwrap().push(status.code());
        }
    }

    let addr = lying_server().await;
    let ends = Arc::new(Ends::default());
    let mut client = GreeterClient::new(net::channel(addr).await)
        .with_interceptors(Interceptors::new().with_call(Record(ends.clone())));
    for index in 0..lies().len() {
        every_mode(&mut client, index, false).await;
        let seen = std::mem::take(&mut *ends.0.lock().unwrap());
        assert_eq!(seen, vec![lies()[index].code; 4], "{}", lies()[index].name);
    }
}
