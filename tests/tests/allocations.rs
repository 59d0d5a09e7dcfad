//! What the standard interceptor chain costs per call in heap allocations, against the same
//! server without interceptors: a figure that barely moves with the machine's load (unlike the
//! benchmark's rates: only what is done once a second, such as hyper's `date` header, depends
//! on time), so a change that adds allocations to the call path fails here.
//!
//! One test in this binary, so the counting allocator sees no other test's work; client and
//! server share one current-thread runtime, so a call's allocations are all counted, the
//! client's the same on both sides of each comparison. No tracing subscriber is installed:
//! `Logging` then does not wrap calls, which the server's bound counts on.

use std::alloc::{GlobalAlloc, Layout, System};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};

use greeter_runtime::Interceptors;
use greeter_runtime::interceptors::{BearerAuth, Logging, Recovery, Validation};
use greeter_tests::greeter::greeter_client::GreeterClient;
use greeter_tests::greeter::greeter_server::{Greeter, GreeterServer};
use greeter_tests::greeter::{HelloRequest, HelloResponse};
use greeter_tests::net;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status, Streaming};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed on to `System` unchanged; counting allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const TOKEN: &str = "allocation-test-token";
const CALLS: u64 = 100;

type ReplyStream = Pin<Box<dyn Stream<Item = Result<HelloResponse, Status>> + Send>>;

struct Hello;

fn reply(name: &str) -> HelloResponse {
    HelloResponse {
        reply: format!("hello {name}"),
    }
}

impl Greeter for Hello {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloResponse>, Status> {
        Ok(Response::new(reply(&request.into_inner().name)))
    }

    type LotsOfRepliesStream = ReplyStream;

    async fn lots_of_replies(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<ReplyStream>, Status> {
        let name = request.into_inner().name;
        let replies = (0..4).map(move |_| Ok(reply(&name)));
        Ok(Response::new(Box::pin(tokio_stream::iter(replies))))
    }

    async fn lots_of_greetings(
        &self,
        request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<HelloResponse>, Status> {
        let mut stream = request.into_inner();
        let mut last = String::new();
        while let Some(request) = stream.next().await {
            last = request?.name;
        }
        Ok(Response::new(reply(&last)))
    }

    type BidiHelloStream = ReplyStream;

    async fn bidi_hello(
        &self,
        request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<ReplyStream>, Status> {
        let replies = request
            .into_inner()
            .map(|request| request.map(|r| reply(&r.name)));
        Ok(Response::new(Box::pin(replies)))
    }
}

/// The standard server chain, as the benchmark's (c) and the example server run it.
fn standard_chain() -> Interceptors {
    Interceptors::new()
        .with_recovery(Recovery::new())
        .with_call(Logging::new())
        .with_head(BearerAuth::new(TOKEN))
        .with_call(
            Validation::new().message_with(|request: &HelloRequest, violations| {
                violations.ensure(!request.name.is_empty(), "name", "must not be empty");
            }),
        )
}

fn authorized<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    let value = format!("Bearer {TOKEN}").parse().unwrap();
    request.metadata_mut().insert("authorization", value);
    request
}

fn hello() -> HelloRequest {
    HelloRequest { name: "ann".into() }
}

/// Allocations per call of `call`, after a warm-up that fills connection buffers and tables.
async fn per_call<F, Fut>(client: &mut GreeterClient<Channel>, mut call: F) -> f64
where
    F: FnMut(GreeterClient<Channel>) -> Fut,
    Fut: Future<Output = ()>,
{
    for _ in 0..CALLS / 4 {
        call(client.clone()).await;
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..CALLS {
        call(client.clone()).await;
    }
    (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / CALLS as f64
}

async fn unary(mut client: GreeterClient<Channel>) {
    client.say_hello(authorized(hello())).await.unwrap();
}

async fn server_streaming(mut client: GreeterClient<Channel>) {
    let mut replies = client
        .lots_of_replies(authorized(hello()))
        .await
        .unwrap()
        .into_inner();
    while let Some(reply) = replies.next().await {
        reply.unwrap();
    }
}

async fn bidi(mut client: GreeterClient<Channel>) {
    let requests = tokio_stream::iter((0..16).map(|_| hello()));
    let mut replies = client
        .bidi_hello(authorized(requests))
        .await
        .unwrap()
        .into_inner();
    while let Some(reply) = replies.next().await {
        reply.unwrap();
    }
}

/// Allocations per call of each kind, from a client with `client` interceptors to a server
/// with `server` ones.
async fn measure(server: Interceptors, client: Interceptors) -> [f64; 3] {
    let server = GreeterServer::new(Hello).with_interceptors(server);
    let addr = net::serve(Server::builder().add_service(server)).await;
    let mut client = GreeterClient::new(net::channel(addr).await).with_interceptors(client);
    [
        per_call(&mut client, unary).await,
        per_call(&mut client, server_streaming).await,
        per_call(&mut client, bidi).await,
    ]
}

/// A client's chain: logging and validation of what it sends.
fn client_chain() -> Interceptors {
    Interceptors::new()
        .with_call(Logging::new())
        .with_call(
            Validation::new().message_with(|request: &HelloRequest, violations| {
                violations.ensure(!request.name.is_empty(), "name", "must not be empty");
            }),
        )
}

/// Checks what a chain adds per call, kind by kind, against `bound` (a quarter of an
/// allocation of slack for buffers that grow).
fn check(side: &str, plain: [f64; 3], chained: [f64; 3], bound: [f64; 3]) {
    let kinds = ["unary", "server streaming", "bidi"];
    for (((kind, plain), chained), bound) in kinds.into_iter().zip(plain).zip(chained).zip(bound) {
        let added = chained - plain;
        println!("{side}, {kind}: {plain:.2} allocations per call plain, {chained:.2} chained");
        assert!(
            added <= bound + 0.25,
            "{side}, {kind}: the chain adds {added:.2} allocations per call \
             ({plain:.2} plain, {chained:.2} chained), more than {bound}"
        );
    }
}

#[tokio::test]
async fn interceptor_chains_add_a_few_allocations_per_call() {
    let plain = measure(Interceptors::new(), Interceptors::new()).await;
    // The server's standard chain: the call's context (shared by the codec, the body and the
    // hooks) and the response body that completes the trailers and runs the end hooks. With
    // no tracing subscriber `Logging` does not wrap the call (`CallInterceptor::wraps`), so
    // the handler runs without the chain's exchange and its boxed future.
    let server = measure(standard_chain(), Interceptors::new()).await;
    check("server", plain, server, [2.0, 2.0, 1.0]);
    // The client's: the context, the hooks carried to the transport in the request's
    // extensions (one box), and the copies of the response headers and trailers the context
    // keeps for the interceptors (two each). `Logging` does not wrap the call here either.
    let client = measure(Interceptors::new(), client_chain()).await;
    check("client", plain, client, [6.0, 6.0, 6.0]);
}
