//! The interop server's handlers: what each method of `grpc.testing.TestService` answers.
//!
//! Everything a request asks for is checked before it is honoured: an unknown payload type, a
//! negative or oversized payload or a negative interval answers INVALID_ARGUMENT, never a panic
//! or an unbounded allocation. Echoed metadata is not handled here but by [`EchoMetadata`]
//! around every call.
//!
//! [`EchoMetadata`]: super::EchoMetadata

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::BoxStream;
use tonic::metadata::MetadataValue;
use tonic::{Code, Request, Response, Status, Streaming};

use super::pb::test_service_server::TestService;
use super::pb::{
    EchoStatus, Empty, Payload, PayloadType, ResponseParameters, SimpleRequest, SimpleResponse,
    StreamingInputCallRequest, StreamingInputCallResponse, StreamingOutputCallRequest,
    StreamingOutputCallResponse,
};
use super::{MAX_PAYLOAD_BYTES, zeros};

/// How many responses a streaming handler may have made ahead of the client reading them.
const RESPONSE_BUFFER: usize = 4;

/// How long `CacheableUnaryCall`'s answer may be cached, as gRPC's reference servers say.
const CACHE_CONTROL: &str = "max-age=60";

/// `grpc.testing.TestService` as gRPC's interop spec describes its server. `UnimplementedCall`
/// is left to the generated UNIMPLEMENTED default, as the spec wants.
#[derive(Debug, Default, Clone, Copy)]
pub struct InteropService;

type ResponseStream = BoxStream<StreamingOutputCallResponse>;

impl TestService for InteropService {
    async fn empty_call(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        Ok(Response::new(Empty {}))
    }

    async fn unary_call(
        &self,
        request: Request<SimpleRequest>,
    ) -> Result<Response<SimpleResponse>, Status> {
        let request = request.into_inner();
        echo_status(request.response_status.as_ref())?;
        let size = payload_size(request.response_type, request.response_size)?;
        Ok(Response::new(SimpleResponse {
            payload: Some(zeros(size)),
            ..SimpleResponse::default()
        }))
    }

    async fn cacheable_unary_call(
        &self,
        _request: Request<SimpleRequest>,
    ) -> Result<Response<SimpleResponse>, Status> {
        // A body that differs on every call, so that a cache hit is told from a fresh answer.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let mut response = Response::new(SimpleResponse {
            payload: Some(Payload {
                r#type: PayloadType::Compressable.into(),
                body: nanos.to_string().into_bytes(),
            }),
            ..SimpleResponse::default()
        });
        response
            .metadata_mut()
            .insert("cache-control", MetadataValue::from_static(CACHE_CONTROL));
        Ok(response)
    }

    async fn streaming_output_call(
        &self,
        request: Request<StreamingOutputCallRequest>,
    ) -> Result<Response<ResponseStream>, Status> {
        let request = request.into_inner();
        // Checked whole before anything is sent, so a bad request gets no partial answer.
        let plan = Plan::of(&request)?;
        let (sender, receiver) = mpsc::channel(RESPONSE_BUFFER);
        tokio::spawn(async move {
            plan.send(&sender).await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn streaming_input_call(
        &self,
        request: Request<Streaming<StreamingInputCallRequest>>,
    ) -> Result<Response<StreamingInputCallResponse>, Status> {
        let mut requests = request.into_inner();
        let mut total: i32 = 0;
        while let Some(request) = requests.message().await? {
            let size = request.payload.map_or(0, |payload| payload.body.len());
            total = i32::try_from(size)
                .ok()
                .and_then(|size| total.checked_add(size))
                .ok_or_else(|| {
                    Status::invalid_argument("the aggregated payload size overflows an int32")
                })?;
        }
        Ok(Response::new(StreamingInputCallResponse {
            aggregated_payload_size: total,
        }))
    }

    async fn full_duplex_call(
        &self,
        request: Request<Streaming<StreamingOutputCallRequest>>,
    ) -> Result<Response<ResponseStream>, Status> {
        let mut requests = request.into_inner();
        let (sender, receiver) = mpsc::channel(RESPONSE_BUFFER);
        tokio::spawn(async move {
            // Each request is answered before the next is read; the first failure ends the call.
            while let Some(request) = requests.next().await {
                let plan = match request.and_then(|request| Plan::of(&request)) {
                    Ok(plan) => plan,
                    Err(status) => {
                        let _ = sender.send(Err(status)).await;
                        return;
                    }
                };
                if !plan.send(&sender).await {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn half_duplex_call(
        &self,
        request: Request<Streaming<StreamingOutputCallRequest>>,
    ) -> Result<Response<ResponseStream>, Status> {
        let mut requests = request.into_inner();
        let mut plans = Vec::new();
        while let Some(request) = requests.message().await? {
            plans.push(Plan::of(&request)?);
        }
        let (sender, receiver) = mpsc::channel(RESPONSE_BUFFER);
        tokio::spawn(async move {
            for plan in plans {
                if !plan.send(&sender).await {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}

/// The status a request asks the call to end with (`response_status`), if any but OK.
fn echo_status(status: Option<&EchoStatus>) -> Result<(), Status> {
    match status {
        Some(EchoStatus { code, message }) if *code != 0 => {
            Err(Status::new(Code::from_i32(*code), message.clone()))
        }
        _ => Ok(()),
    }
}

/// The size of a payload of the requested type and size, or why it cannot be made.
fn payload_size(response_type: i32, size: i32) -> Result<usize, Status> {
    if PayloadType::try_from(response_type) != Ok(PayloadType::Compressable) {
        return Err(Status::invalid_argument(format!(
            "unsupported response_type {response_type}: only COMPRESSABLE (0) is served"
        )));
    }
    match usize::try_from(size) {
        Ok(size) if size <= MAX_PAYLOAD_BYTES => Ok(size),
        _ => Err(Status::invalid_argument(format!(
            "response size {size} is not between 0 and {MAX_PAYLOAD_BYTES} bytes"
        ))),
    }
}

/// The responses one `StreamingOutputCallRequest` asks for, checked: for each, the wait before
/// it and its payload size.
#[derive(Debug)]
struct Plan {
    responses: Vec<(Duration, usize)>,
}

impl Plan {
    fn of(request: &StreamingOutputCallRequest) -> Result<Self, Status> {
        echo_status(request.response_status.as_ref())?;
        let responses = request
            .response_parameters
            .iter()
            .map(
                |&ResponseParameters {
                     size, interval_us, ..
                 }| {
                    let interval = u64::try_from(interval_us).map_err(|_| {
                        Status::invalid_argument(format!("negative interval_us {interval_us}"))
                    })?;
                    let size = payload_size(request.response_type, size)?;
                    Ok((Duration::from_micros(interval), size))
                },
            )
            .collect::<Result<_, Status>>()?;
        Ok(Self { responses })
    }

    /// Sends the responses, each after its wait. False once the client has gone away.
    async fn send(
        self,
        sender: &mpsc::Sender<Result<StreamingOutputCallResponse, Status>>,
    ) -> bool {
        for (interval, size) in self.responses {
            if !interval.is_zero() {
                tokio::time::sleep(interval).await;
            }
            let response = StreamingOutputCallResponse {
                payload: Some(zeros(size)),
            };
            if sender.send(Ok(response)).await.is_err() {
                return false;
            }
        }
        true
    }
}
