//! Reflection: our server describes the test service over v1 and v1alpha.

use std::time::Duration;

use crate::peers::{Peer, start_server};
use crate::process::TempDir;

#[test]
fn reflection_v1_and_v1alpha_describe_the_test_service() {
    use prost::Message;
    use tonic_reflection::pb::{v1, v1alpha};

    let dir = TempDir::new();
    let server = start_server(Peer::Rust, None, &dir);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (v1_services, v1alpha_services, file) = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), async {
            let channel = tonic::transport::Endpoint::from_shared(format!(
                "http://127.0.0.1:{}",
                server.port
            ))
            .unwrap()
            .connect()
            .await
            .unwrap();
            let list = v1::server_reflection_request::MessageRequest::ListServices(String::new());
            let symbol = v1::server_reflection_request::MessageRequest::FileContainingSymbol(
                "grpc.testing.TestService".to_owned(),
            );
            let requests = [list, symbol].map(|request| v1::ServerReflectionRequest {
                host: String::new(),
                message_request: Some(request),
            });
            let mut v1_client =
                v1::server_reflection_client::ServerReflectionClient::new(channel.clone());
            let mut answers = v1_client
                .server_reflection_info(tokio_stream::iter(requests))
                .await
                .unwrap()
                .into_inner();
            let mut v1_services = Vec::new();
            let mut file = None;
            while let Some(answer) = answers.message().await.unwrap() {
                match answer.message_response.unwrap() {
                    v1::server_reflection_response::MessageResponse::ListServicesResponse(list) => {
                        v1_services.extend(list.service.into_iter().map(|s| s.name));
                    }
                    v1::server_reflection_response::MessageResponse::FileDescriptorResponse(
                        files,
                    ) => {
                        let proto = prost_types::FileDescriptorProto::decode(
                            files.file_descriptor_proto[0].as_slice(),
                        )
                        .unwrap();
                        file = proto.name;
                    }
                    other => panic!("unexpected reflection answer {other:?}"),
                }
            }

            // v1alpha, which grpcurl and grpcio-reflection still speak.
            let mut v1alpha_client =
                v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
            let request = v1alpha::ServerReflectionRequest {
                host: String::new(),
                message_request: Some(
                    v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
                ),
            };
            let mut answers = v1alpha_client
                .server_reflection_info(tokio_stream::iter([request]))
                .await
                .unwrap()
                .into_inner();
            let answer = answers.message().await.unwrap().unwrap();
            let v1alpha_services = match answer.message_response.unwrap() {
                v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(
                    list,
                ) => list.service.into_iter().map(|s| s.name).collect::<Vec<_>>(),
                other => panic!("unexpected v1alpha reflection answer {other:?}"),
            };
            (v1_services, v1alpha_services, file)
        })
        .await
        .expect("reflection answered within 20 s")
    });
    // Both versions list the services served, never the one that is not.
    let want = [
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.testing.TestService",
    ];
    for mut services in [v1_services, v1alpha_services] {
        services.sort();
        assert_eq!(services, want);
    }
    assert_eq!(file.as_deref(), Some("grpc/testing/test.proto"));
}
