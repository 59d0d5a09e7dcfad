//! The client's checks are real: against a server that gets every case slightly wrong (and
//! serves the service that must not be), each case fails with what differed.

use greeter_examples::interop::pb::test_service_server::{TestService, TestServiceServer};
use greeter_examples::interop::pb::unimplemented_service_server::{
    UnimplementedService, UnimplementedServiceServer,
};
use greeter_examples::interop::pb::{
    Empty, SimpleRequest, SimpleResponse, StreamingInputCallRequest, StreamingInputCallResponse,
    StreamingOutputCallRequest, StreamingOutputCallResponse,
};
use greeter_examples::interop::zeros;
use tonic::codegen::BoxStream;
use tonic::{Code, Request, Response, Status, Streaming};

use crate::peers::{CLIENT_RUN, Peer, client};
use crate::process::{TempDir, run};

/// A server that gets every case slightly wrong (and serves the service that must not be).
struct Liar;

impl TestService for Liar {
    async fn empty_call(&self, _: Request<Empty>) -> Result<Response<Empty>, Status> {
        Err(Status::internal("the liar fails EmptyCall"))
    }

    async fn unary_call(
        &self,
        request: Request<SimpleRequest>,
    ) -> Result<Response<SimpleResponse>, Status> {
        let request = request.into_inner();
        if let Some(status) = request.response_status {
            // The code right, the message's surrounding whitespace lost.
            return Err(Status::new(
                Code::from_i32(status.code),
                status.message.trim(),
            ));
        }
        let size = usize::try_from(request.response_size).unwrap_or_default();
        Ok(Response::new(SimpleResponse {
            payload: Some(zeros(size.saturating_sub(1))),
            ..SimpleResponse::default()
        }))
    }

    async fn streaming_input_call(
        &self,
        _: Request<Streaming<StreamingInputCallRequest>>,
    ) -> Result<Response<StreamingInputCallResponse>, Status> {
        // Answers at once, without reading what the client sends.
        Ok(Response::new(StreamingInputCallResponse {
            aggregated_payload_size: 1,
        }))
    }

    async fn streaming_output_call(
        &self,
        request: Request<StreamingOutputCallRequest>,
    ) -> Result<Response<BoxStream<StreamingOutputCallResponse>>, Status> {
        // The sizes asked for, in reverse order.
        let mut sizes = sizes(&request.into_inner(), 0);
        sizes.reverse();
        Ok(Response::new(responses(sizes)))
    }

    async fn full_duplex_call(
        &self,
        request: Request<Streaming<StreamingOutputCallRequest>>,
    ) -> Result<Response<BoxStream<StreamingOutputCallResponse>>, Status> {
        // Answers the first request only, one byte too long each and ignoring any status,
        // then ends; with no request at all it answers anyway.
        let sizes = match request.into_inner().message().await? {
            Some(first) => sizes(&first, 1),
            None => vec![0],
        };
        Ok(Response::new(responses(sizes)))
    }

    async fn unimplemented_call(&self, _: Request<Empty>) -> Result<Response<Empty>, Status> {
        Ok(Response::new(Empty {}))
    }
}

impl UnimplementedService for Liar {
    async fn unimplemented_call(&self, _: Request<Empty>) -> Result<Response<Empty>, Status> {
        Ok(Response::new(Empty {}))
    }
}

/// The response sizes `request` asks for, each `extra` bytes longer.
fn sizes(request: &StreamingOutputCallRequest, extra: usize) -> Vec<usize> {
    request
        .response_parameters
        .iter()
        .map(|p| usize::try_from(p.size).unwrap_or_default() + extra)
        .collect()
}

fn responses(sizes: Vec<usize>) -> BoxStream<StreamingOutputCallResponse> {
    let responses = sizes.into_iter().map(|size| {
        Ok(StreamingOutputCallResponse {
            payload: Some(zeros(size)),
        })
    });
    Box::pin(tokio_stream::iter(responses))
}

#[test]
fn every_case_fails_against_a_server_that_gets_it_wrong() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    runtime.spawn(
        tonic::transport::Server::builder()
            .add_service(TestServiceServer::new(Liar))
            .add_service(UnimplementedServiceServer::new(Liar))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let dir = TempDir::new();
    let finished = run(
        client(Peer::Rust, port, &["--test_case=all"]),
        &dir,
        CLIENT_RUN,
    );
    assert!(!finished.status.success(), "{}", finished.report());
    // What each case must report. `timeout_on_sleeping_server` is left out: whether the liar's
    // early OK or the client's 1 ms deadline comes first is a race.
    let expected = [
        ("empty_unary", "EmptyCall failed: Internal"),
        (
            "large_unary",
            "the UnaryCall response has a payload of 314158 bytes, want 314159",
        ),
        (
            "client_streaming",
            "aggregated payload size of 1, want 74922",
        ),
        (
            "server_streaming",
            "StreamingOutputCall's response 1 has a payload of 58979 bytes, want 31415",
        ),
        (
            "ping_pong",
            "FullDuplexCall's response 1 has a payload of 31416 bytes, want 31415",
        ),
        (
            "empty_stream",
            "FullDuplexCall with no request brought 1 responses, want none",
        ),
        (
            "custom_metadata",
            "UnaryCall's response headers carry x-grpc-test-echo-initial None",
        ),
        (
            "status_code_and_message",
            "FullDuplexCall succeeded, want status Unknown",
        ),
        (
            "special_status_message",
            "UnaryCall ended with message \"test with whitespace",
        ),
        (
            "unimplemented_method",
            "TestService/UnimplementedCall succeeded, want status Unimplemented",
        ),
        (
            "unimplemented_service",
            "UnimplementedService/UnimplementedCall succeeded, want status Unimplemented",
        ),
        // Either the call ends before it is cancelled, or the connection check after it fails.
        ("cancel_after_begin", "StreamingInputCall"),
        (
            "cancel_after_first_response",
            "FullDuplexCall's first response has a payload of 31416 bytes, want 31415",
        ),
    ];
    for (case, what) in expected {
        let line = finished
            .stderr
            .lines()
            .find(|line| line.starts_with(&format!("FAIL {case}: ")));
        assert!(
            line.is_some_and(|line| line.contains(what)),
            "{case} should fail with {what:?}: {}",
            finished.report()
        );
    }
}
