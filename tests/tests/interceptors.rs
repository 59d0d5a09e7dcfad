//! Call interceptors through the golden Greeter, every kind on both sides: the ordering rule,
//! short-circuits at each phase, requests and responses changed in flight, per-message hooks over
//! 1 000-message streams, trailers on success, and per-method selection.

use greeter_tests::net;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use greeter_runtime::interceptor::{
    AnyMessage, Call, CallContext, CallInterceptor, Head, InterceptFuture, Next, Side, only, when,
};
use greeter_runtime::metadata::ResponseExt;
use greeter_runtime::{Interceptors, StreamingKind};
use greeter_tests::greeter::greeter_client::GreeterClient;
use greeter_tests::greeter::greeter_methods;
use greeter_tests::greeter::greeter_server::{Greeter, GreeterServer};
use greeter_tests::greeter::{HelloRequest, HelloResponse};
use tokio_stream::{Stream, StreamExt};
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status, Streaming};

type ReplyStream = Pin<Box<dyn Stream<Item = Result<HelloResponse, Status>> + Send>>;

/// Counts its handler runs; `LotsOfReplies` sends as many replies as the name says.
#[derive(Default)]
struct Counted {
    runs: Arc<AtomicUsize>,
}

impl Greeter for Counted {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloResponse>, Status> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let mut response = Response::new(HelloResponse {
            reply: format!("hello {}", request.into_inner().name),
        });
        response
            .trailers_mut()
            .lock()
            .insert("x-handler", "unary".parse().unwrap());
        Ok(response)
    }

    type LotsOfRepliesStream = ReplyStream;

    async fn lots_of_replies(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<ReplyStream>, Status> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let count: usize = request.into_inner().name.parse().unwrap_or(3);
        let replies = (0..count).map(|i| {
            Ok(HelloResponse {
                reply: i.to_string(),
            })
        });
        let mut response = Response::new(Box::pin(tokio_stream::iter(replies)) as ReplyStream);
        // Filled while the stream runs: the generated server sends it at the end.
        let trailers = response.trailers_mut();
        trailers
            .lock()
            .insert("x-handler", "server-streaming".parse().unwrap());
        Ok(response)
    }

    async fn lots_of_greetings(
        &self,
        request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<HelloResponse>, Status> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let mut stream = request.into_inner();
        let mut names = Vec::new();
        while let Some(request) = stream.next().await {
            names.push(request?.name);
        }
        let count = names.len();
        let last = names.pop().unwrap_or_default();
        Ok(Response::new(HelloResponse {
            reply: format!("{count} names, last {last}"),
        }))
    }

    type BidiHelloStream = ReplyStream;

    async fn bidi_hello(
        &self,
        request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<ReplyStream>, Status> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let replies = request
            .into_inner()
            .map(|request| request.map(|r| HelloResponse { reply: r.name }));
        Ok(Response::new(Box::pin(replies)))
    }
}

async fn client(addr: SocketAddr, interceptors: Interceptors) -> GreeterClient<Channel> {
    GreeterClient::new(net::channel(addr).await).with_interceptors(interceptors)
}

fn hello(name: &str) -> HelloRequest {
    HelloRequest { name: name.into() }
}

fn names(count: usize) -> impl Stream<Item = HelloRequest> + Send + 'static {
    tokio_stream::iter((0..count).map(|i| hello(&i.to_string())))
}

type Log = Arc<Mutex<Vec<String>>>;

/// Writes every hook it sees into a shared log, under its label.
struct Recorder {
    label: &'static str,
    log: Log,
}

impl Recorder {
    fn record(&self, event: &str) {
        self.log
            .lock()
            .unwrap()
            .push(format!("{}:{event}", self.label));
    }
}

impl CallInterceptor for Recorder {
    fn call<'a>(&'a self, call: &'a mut Call<'_>, next: Next<'a>) -> InterceptFuture<'a> {
        Box::pin(async move {
            self.record("before");
            let result = next.run(call).await;
            self.record("after");
            result
        })
    }

    fn on_receive(&self, _: &CallContext, _: &mut AnyMessage<'_>) -> Result<(), Status> {
        self.record("receive");
        Ok(())
    }

    fn on_send(&self, _: &CallContext, _: &mut AnyMessage<'_>) -> Result<(), Status> {
        self.record("send");
        Ok(())
    }

    fn on_end(&self, _: &CallContext, status: &Status) {
        self.record(&format!("end {:?}", status.code()));
    }
}

fn recorders(log: &Log) -> Interceptors {
    ["a", "b", "c"]
        .into_iter()
        .fold(Interceptors::new(), |chain, label| {
            chain.with_call(Recorder {
                label,
                log: Arc::clone(log),
            })
        })
}

fn take(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

fn events(spec: &str) -> Vec<String> {
    spec.split_whitespace()
        .map(|e| e.replace('_', " "))
        .collect()
}

#[tokio::test]
async fn first_added_is_outermost_on_both_sides() {
    let server_log = Log::default();
    let client_log = Log::default();
    let addr =
        serve(GreeterServer::new(Counted::default()).with_interceptors(recorders(&server_log)))
            .await;
    let mut greeter = client(addr, recorders(&client_log)).await;

    greeter.say_hello(hello("ann")).await.unwrap();
    // The server decodes the request before the around hooks run and encodes the response
    // after; the end comes with the trailers.
    assert_eq!(
        take(&server_log),
        events(
            "a:receive b:receive c:receive a:before b:before c:before c:after b:after a:after \
             c:send b:send a:send c:end_Ok b:end_Ok a:end_Ok"
        )
    );
    // The client: the request goes in from the outermost, the response comes back out to it;
    // the end comes once the call is over (after every around hook, which may still retry).
    assert_eq!(
        take(&client_log),
        events(
            "a:before b:before c:before a:send b:send c:send c:receive b:receive a:receive \
             c:after b:after a:after c:end_Ok b:end_Ok a:end_Ok"
        )
    );

    let replies: Vec<_> = greeter
        .bidi_hello(names(2))
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    assert_eq!(replies.len(), 2);
    let server = take(&server_log);
    assert_eq!(server[..3], events("a:before b:before c:before")[..]);
    assert_eq!(
        server[server.len() - 3..],
        events("c:end_Ok b:end_Ok a:end_Ok")[..]
    );
    let client_events = take(&client_log);
    assert_eq!(
        client_events[client_events.len() - 3..],
        events("c:end_Ok b:end_Ok a:end_Ok")[..]
    );
}

/// Fails a call at one chosen point.
struct FailAt {
    point: &'static str,
}

impl FailAt {
    fn check(&self, point: &str) -> Result<(), Status> {
        if self.point == point {
            let mut status = Status::new(Code::FailedPrecondition, format!("stopped at {point}"));
            status
                .metadata_mut()
                .insert("x-stopped-at", point.parse().unwrap());
            Err(status)
        } else {
            Ok(())
        }
    }
}

impl CallInterceptor for FailAt {
    fn call<'a>(&'a self, call: &'a mut Call<'_>, next: Next<'a>) -> InterceptFuture<'a> {
        Box::pin(async move {
            self.check("before")?;
            next.run(call).await?;
            self.check("after")
        })
    }

    fn on_receive(&self, _: &CallContext, _: &mut AnyMessage<'_>) -> Result<(), Status> {
        self.check("receive")
    }

    fn on_send(&self, _: &CallContext, _: &mut AnyMessage<'_>) -> Result<(), Status> {
        self.check("send")
    }
}

fn assert_stopped(status: &Status, point: &str) {
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(status.message(), format!("stopped at {point}"));
    assert_eq!(status.metadata().get("x-stopped-at").unwrap(), point);
}

#[tokio::test]
async fn every_phase_can_end_the_call_with_its_exact_status() {
    for point in ["before", "receive", "send", "after"] {
        let handler = Counted::default();
        let runs = Arc::clone(&handler.runs);
        let server = GreeterServer::new(handler).with_call_interceptor(FailAt { point });
        let addr = serve(server).await;
        let mut greeter = client(addr, Interceptors::new()).await;

        let status = greeter.say_hello(hello("x")).await.unwrap_err();
        assert_stopped(&status, point);
        let handler_ran = matches!(point, "send" | "after");
        assert_eq!(
            runs.load(Ordering::SeqCst),
            usize::from(handler_ran),
            "{point}"
        );

        // Streams: a rejected message ends the call with the interceptor's status.
        let outcome = match greeter.bidi_hello(names(3)).await {
            Err(status) => Err(status),
            Ok(response) => {
                let mut stream = response.into_inner();
                loop {
                    match stream.message().await {
                        Ok(Some(_)) => continue,
                        Ok(None) => break Ok(()),
                        Err(status) => break Err(status),
                    }
                }
            }
        };
        // `after` runs once the handler has handed the response stream on.
        assert_stopped(&outcome.unwrap_err(), point);
    }

    // Client side: nothing reaches the server when the client stops before sending.
    for point in ["before", "send"] {
        let handler = Counted::default();
        let runs = Arc::clone(&handler.runs);
        let addr = serve(GreeterServer::new(handler)).await;
        let mut greeter = client(addr, Interceptors::new().with_call(FailAt { point })).await;
        let status = greeter.say_hello(hello("x")).await.unwrap_err();
        assert_stopped(&status, point);
        assert_eq!(runs.load(Ordering::SeqCst), 0, "{point}");
    }
    // Client side, on the response.
    for point in ["receive", "after"] {
        let addr = serve(GreeterServer::new(Counted::default())).await;
        let mut greeter = client(addr, Interceptors::new().with_call(FailAt { point })).await;
        let status = greeter.say_hello(hello("x")).await.unwrap_err();
        assert_stopped(&status, point);
    }
}

/// Changes requests and responses in flight, through downcasts of the erased messages.
struct Rewrite;

impl CallInterceptor for Rewrite {
    fn call<'a>(&'a self, call: &'a mut Call<'_>, next: Next<'a>) -> InterceptFuture<'a> {
        Box::pin(async move {
            if let Some(mut request) = call.request() {
                assert_eq!(request.full_name(), "greeter.v1.HelloRequest");
                let request = request.downcast_mut::<HelloRequest>().unwrap();
                request.name = format!("<{}>", request.name);
            }
            next.run(call).await?;
            if let Some(mut response) = call.response() {
                assert_eq!(response.full_name(), "greeter.v1.HelloResponse");
                response.downcast_mut::<HelloResponse>().unwrap().reply += "!";
            }
            Ok(())
        })
    }

    fn on_receive(
        &self,
        context: &CallContext,
        message: &mut AnyMessage<'_>,
    ) -> Result<(), Status> {
        // Only stream messages here, so the unary case shows the around hook's change alone.
        if context.method().kind() == StreamingKind::BidiStreaming {
            if let Some(request) = message.downcast_mut::<HelloRequest>() {
                request.name = request.name.to_uppercase();
            }
            if let Some(response) = message.downcast_mut::<HelloResponse>() {
                response.reply = format!("[{}]", response.reply);
            }
        }
        Ok(())
    }
}

#[tokio::test]
async fn changed_requests_and_responses_are_what_the_other_end_sees() {
    let addr = serve(GreeterServer::new(Counted::default()).with_call_interceptor(Rewrite)).await;
    let mut greeter = client(addr, Interceptors::new()).await;
    let reply = greeter
        .say_hello(hello("ann"))
        .await
        .unwrap()
        .into_inner()
        .reply;
    assert_eq!(reply, "hello <ann>!");
    let replies: Vec<String> = greeter
        .bidi_hello(tokio_stream::iter([hello("ab"), hello("c")]))
        .await
        .unwrap()
        .into_inner()
        .map(|r| r.unwrap().reply)
        .collect()
        .await;
    assert_eq!(replies, ["AB", "C"]);

    // The same interceptor on the client: the request changes before it leaves, the response
    // after it arrives.
    let addr = serve(GreeterServer::new(Counted::default())).await;
    let mut greeter = client(addr, Interceptors::new().with_call(Rewrite)).await;
    let reply = greeter
        .say_hello(hello("bo"))
        .await
        .unwrap()
        .into_inner()
        .reply;
    assert_eq!(reply, "hello <bo>!");
    let replies: Vec<String> = greeter
        .bidi_hello(tokio_stream::iter([hello("x")]))
        .await
        .unwrap()
        .into_inner()
        .map(|r| r.unwrap().reply)
        .collect()
        .await;
    assert_eq!(replies, ["[x]"]);
}

/// Counts messages each way and ends.
#[derive(Default)]
struct Counter {
    received: AtomicUsize,
    sent: AtomicUsize,
    ended: AtomicUsize,
}

impl CallInterceptor for Counter {
    fn on_receive(&self, _: &CallContext, _: &mut AnyMessage<'_>) -> Result<(), Status> {
        self.received.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn on_send(&self, _: &CallContext, _: &mut AnyMessage<'_>) -> Result<(), Status> {
        self.sent.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn on_end(&self, _: &CallContext, status: &Status) {
        assert_eq!(status.code(), Code::Ok, "{status:?}");
        self.ended.fetch_add(1, Ordering::SeqCst);
    }
}

impl Counter {
    fn take(&self) -> (usize, usize, usize) {
        (
            self.received.swap(0, Ordering::SeqCst),
            self.sent.swap(0, Ordering::SeqCst),
            self.ended.swap(0, Ordering::SeqCst),
        )
    }
}

#[tokio::test]
async fn per_message_hooks_fire_once_per_message_over_long_streams() {
    const N: usize = 1000;
    let server = Arc::new(Counter::default());
    let client_side = Arc::new(Counter::default());
    let addr = serve(
        GreeterServer::new(Counted::default())
            .with_interceptors(Interceptors::new().with_shared_call(server.clone())),
    )
    .await;
    let mut greeter = client(
        addr,
        Interceptors::new().with_shared_call(client_side.clone()),
    )
    .await;

    let replies = greeter
        .lots_of_replies(hello(&N.to_string()))
        .await
        .unwrap()
        .into_inner()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(replies.len(), N);
    assert_eq!(server.take(), (1, N, 1), "server: received, sent, ended");
    assert_eq!(
        client_side.take(),
        (N, 1, 1),
        "client: received, sent, ended"
    );

    let reply = greeter
        .lots_of_greetings(names(N))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.reply, format!("{N} names, last {}", N - 1));
    assert_eq!(server.take(), (N, 1, 1));
    assert_eq!(client_side.take(), (1, N, 1));

    let replies = greeter
        .bidi_hello(names(N))
        .await
        .unwrap()
        .into_inner()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(replies.len(), N);
    assert_eq!(server.take(), (N, N, 1));
    assert_eq!(client_side.take(), (N, N, 1));
}

/// A [`Counter`] that says it does not wrap the call, and whose `call` fails the call if it
/// runs anyway.
#[derive(Default)]
struct HooksOnly(Counter);

impl CallInterceptor for HooksOnly {
    fn call<'a>(&'a self, _: &'a mut Call<'_>, _: Next<'a>) -> InterceptFuture<'a> {
        Box::pin(async {
            Err(Status::internal(
                "`call` ran on a chain that should skip it",
            ))
        })
    }

    fn wraps_call(&self) -> bool {
        false
    }

    fn on_receive(
        &self,
        context: &CallContext,
        message: &mut AnyMessage<'_>,
    ) -> Result<(), Status> {
        self.0.on_receive(context, message)
    }

    fn on_send(&self, context: &CallContext, message: &mut AnyMessage<'_>) -> Result<(), Status> {
        self.0.on_send(context, message)
    }

    fn on_end(&self, context: &CallContext, status: &Status) {
        self.0.on_end(context, status);
    }
}

#[tokio::test]
async fn an_interceptor_that_does_not_wrap_the_call_keeps_its_hooks_and_is_skipped_by_next() {
    let server = Arc::new(HooksOnly::default());
    let client_side = Arc::new(HooksOnly::default());
    // Between two interceptors that wrap the call, on both sides.
    let around = |hooks_only: Arc<HooksOnly>| {
        Interceptors::new()
            .with_call(StampTrailers)
            .with_shared_call(hooks_only)
            .with_call(StampTrailers)
    };
    let addr =
        serve(GreeterServer::new(Counted::default()).with_interceptors(around(server.clone())))
            .await;
    let mut greeter = client(addr, around(client_side.clone())).await;

    greeter.say_hello(hello("ann")).await.unwrap();
    assert_eq!(server.0.take(), (1, 1, 1), "server: received, sent, ended");
    assert_eq!(
        client_side.0.take(),
        (1, 1, 1),
        "client: received, sent, ended"
    );

    let replies = greeter
        .bidi_hello(names(3))
        .await
        .unwrap()
        .into_inner()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(replies.len(), 3);
    assert_eq!(server.0.take(), (3, 3, 1));
    assert_eq!(client_side.0.take(), (3, 3, 1));
}

/// Wraps only the calls of one method (`CallInterceptor::wraps`), counting the calls its
/// `call` ran for.
struct WrapsOne {
    method: &'static str,
    ran: AtomicUsize,
}

impl WrapsOne {
    fn new(method: &'static str) -> Self {
        Self {
            method,
            ran: AtomicUsize::new(0),
        }
    }
}

impl CallInterceptor for WrapsOne {
    fn call<'a>(&'a self, call: &'a mut Call<'_>, next: Next<'a>) -> InterceptFuture<'a> {
        self.ran.fetch_add(1, Ordering::SeqCst);
        next.forward(call)
    }

    fn wraps(&self, context: &CallContext) -> bool {
        context.method().method() == self.method
    }
}

#[tokio::test]
async fn a_server_runs_the_chain_only_for_calls_an_interceptor_wraps() {
    let say_hello = Arc::new(WrapsOne::new("SayHello"));
    let bidi = Arc::new(WrapsOne::new("BidiHello"));
    let hooks = Arc::new(HooksOnly::default());
    let chain = Interceptors::new()
        .with_shared_call(say_hello.clone())
        .with_shared_call(hooks.clone())
        .with_shared_call(bidi.clone());
    let addr = serve(GreeterServer::new(Counted::default()).with_interceptors(chain)).await;
    let mut greeter = client(addr, Interceptors::new()).await;

    // One interceptor wraps SayHello: the chain runs, every `call` in it (the other's forwards).
    greeter.say_hello(hello("ann")).await.unwrap();
    assert_eq!(say_hello.ran.swap(0, Ordering::SeqCst), 1);
    assert_eq!(bidi.ran.swap(0, Ordering::SeqCst), 1);
    assert_eq!(hooks.0.take(), (1, 1, 1), "received, sent, ended");

    // None wraps LotsOfGreetings: the handler runs without the chain; the hooks still run.
    let reply = greeter.lots_of_greetings(names(3)).await.unwrap();
    assert_eq!(reply.into_inner().reply, "3 names, last 2");
    assert_eq!(say_hello.ran.swap(0, Ordering::SeqCst), 0);
    assert_eq!(bidi.ran.swap(0, Ordering::SeqCst), 0);
    assert_eq!(hooks.0.take(), (3, 1, 1));

    let replies = greeter
        .bidi_hello(names(2))
        .await
        .unwrap()
        .into_inner()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(replies.len(), 2);
    assert_eq!(say_hello.ran.swap(0, Ordering::SeqCst), 1);
    assert_eq!(bidi.ran.swap(0, Ordering::SeqCst), 1);
    assert_eq!(hooks.0.take(), (2, 2, 1));
}

#[tokio::test]
async fn a_client_runs_the_chain_only_for_calls_an_interceptor_wraps() {
    let say_hello = Arc::new(WrapsOne::new("SayHello"));
    let hooks = Arc::new(HooksOnly::default());
    let chain = Interceptors::new()
        .with_shared_call(hooks.clone())
        .with_shared_call(say_hello.clone());
    let addr = serve(GreeterServer::new(Counted::default())).await;
    let mut greeter = client(addr, chain).await;

    greeter.say_hello(hello("ann")).await.unwrap();
    assert_eq!(say_hello.ran.swap(0, Ordering::SeqCst), 1);
    assert_eq!(hooks.0.take(), (1, 1, 1), "received, sent, ended");

    // Not wrapped: sent once without the chain; the hooks still see every message and the end.
    let reply = greeter.lots_of_greetings(names(3)).await.unwrap();
    assert_eq!(reply.into_inner().reply, "3 names, last 2");
    assert_eq!(say_hello.ran.swap(0, Ordering::SeqCst), 0);
    assert_eq!(hooks.0.take(), (1, 3, 1));
}

/// Adds a trailer and a header through the call context, on every call.
struct StampTrailers;

impl CallInterceptor for StampTrailers {
    fn call<'a>(&'a self, call: &'a mut Call<'_>, next: Next<'a>) -> InterceptFuture<'a> {
        Box::pin(async move {
            let kind = call.method().kind().as_str();
            call.context()
                .trailers()
                .insert("x-interceptor", kind.parse().unwrap());
            call.context()
                .headers()
                .insert("x-header", "early".parse().unwrap());
            next.run(call).await
        })
    }
}

/// Records what the client saw at the end of each call.
#[derive(Default)]
struct SeenAtEnd(Mutex<Vec<(Option<String>, Option<String>)>>);

impl CallInterceptor for SeenAtEnd {
    fn on_end(&self, context: &CallContext, status: &Status) {
        assert_eq!(context.side(), Side::Client);
        assert_eq!(status.code(), Code::Ok);
        let header = context
            .headers()
            .get("x-header")
            .map(|v| v.to_str().unwrap().to_owned());
        let trailer = context
            .trailers()
            .get("x-interceptor")
            .map(|v| v.to_str().unwrap().to_owned());
        self.0.lock().unwrap().push((header, trailer));
    }
}

#[tokio::test]
async fn trailers_on_success_reach_the_client_in_all_four_kinds() {
    let addr =
        serve(GreeterServer::new(Counted::default()).with_call_interceptor(StampTrailers)).await;
    let seen = Arc::new(SeenAtEnd::default());
    let mut greeter = client(addr, Interceptors::new().with_shared_call(seen.clone())).await;

    let response = greeter.say_hello(hello("t")).await.unwrap();
    let trailers = response
        .trailers()
        .expect("unary responses carry their trailers");
    assert_eq!(trailers.get("x-interceptor").unwrap(), "unary");
    assert_eq!(trailers.get("x-handler").unwrap(), "unary");
    assert_eq!(trailers.get("grpc-status").unwrap(), "0");
    // Headers and trailers stay apart.
    assert_eq!(response.metadata().get("x-header").unwrap(), "early");
    assert!(response.metadata().get("x-interceptor").is_none());
    assert!(response.metadata().get("grpc-status").is_none());

    let response = greeter.lots_of_greetings(names(2)).await.unwrap();
    let trailers = response.trailers().unwrap();
    assert_eq!(trailers.get("x-interceptor").unwrap(), "client_streaming");
    assert!(response.metadata().get("x-interceptor").is_none());

    let mut stream = greeter
        .lots_of_replies(hello("2"))
        .await
        .unwrap()
        .into_inner();
    while stream.message().await.unwrap().is_some() {}
    let trailers = stream.trailers().await.unwrap().unwrap();
    assert_eq!(trailers.get("x-interceptor").unwrap(), "server_streaming");
    assert_eq!(trailers.get("x-handler").unwrap(), "server-streaming");

    let mut stream = greeter.bidi_hello(names(2)).await.unwrap().into_inner();
    while stream.message().await.unwrap().is_some() {}
    let trailers = stream.trailers().await.unwrap().unwrap();
    assert_eq!(trailers.get("x-interceptor").unwrap(), "bidi_streaming");

    let seen = seen.0.lock().unwrap().clone();
    let want = |kind: &str| (Some("early".to_owned()), Some(kind.to_owned()));
    assert_eq!(
        seen,
        [
            want("unary"),
            want("client_streaming"),
            want("server_streaming"),
            want("bidi_streaming")
        ]
    );
}

#[tokio::test]
async fn selection_runs_an_interceptor_on_the_chosen_methods_only() {
    let log = Log::default();
    let recorder = |label| Recorder {
        label,
        log: Arc::clone(&log),
    };
    let chain = Interceptors::new()
        .with_call(only(&[greeter_methods::SAY_HELLO], recorder("only")))
        .with_call(when(|m| m.kind().is_client_streaming(), recorder("when")))
        .with_head(greeter_runtime::interceptor::except(
            &[greeter_methods::SAY_HELLO],
            |head: &mut Head<'_>| {
                head.metadata_mut().insert("x-except", "1".parse().unwrap());
                Ok(())
            },
        ));
    let addr = serve(GreeterServer::new(Counted::default()).with_interceptors(chain)).await;
    let mut greeter = client(addr, Interceptors::new()).await;

    greeter.say_hello(hello("a")).await.unwrap();
    let said: Vec<_> = take(&log)
        .iter()
        .map(|e| e.split(':').next().unwrap().to_owned())
        .collect();
    assert!(
        said.iter().all(|label| label == "only") && !said.is_empty(),
        "{said:?}"
    );

    greeter.lots_of_greetings(names(1)).await.unwrap();
    let said: Vec<_> = take(&log)
        .iter()
        .map(|e| e.split(':').next().unwrap().to_owned())
        .collect();
    assert!(
        said.iter().all(|label| label == "when") && !said.is_empty(),
        "{said:?}"
    );

    greeter.lots_of_replies(hello("1")).await.unwrap();
    assert!(take(&log).is_empty());
}

#[tokio::test]
async fn a_panicking_interceptor_does_not_take_the_server_down() {
    let server =
        GreeterServer::new(Counted::default()).with_head_interceptor(|head: &mut Head<'_>| {
            if head.metadata().contains_key("x-panic") {
                panic!("interceptor bug");
            }
            Ok(())
        });
    let addr = serve(server).await;
    let mut greeter = client(addr, Interceptors::new()).await;
    let mut request = Request::new(hello("boom"));
    request
        .metadata_mut()
        .insert("x-panic", "1".parse().unwrap());
    assert!(greeter.say_hello(request).await.is_err());
    let mut fresh = client(addr, Interceptors::new()).await;
    let reply = fresh
        .say_hello(hello("after"))
        .await
        .unwrap()
        .into_inner()
        .reply;
    assert_eq!(reply, "hello after");
}

/// Counts head runs and lets only calls with `x-key: open` through.
#[derive(Default)]
struct Gate(AtomicUsize);

impl greeter_runtime::HeadInterceptor for Gate {
    fn head<'a>(&'a self, head: &'a mut Head<'_>) -> InterceptFuture<'a> {
        self.0.fetch_add(1, Ordering::SeqCst);
        let open = head.metadata().get("x-key").is_some_and(|v| v == "open");
        Box::pin(std::future::ready(if open {
            Ok(())
        } else {
            Err(Status::unauthenticated("closed"))
        }))
    }
}

#[tokio::test]
async fn the_head_layer_guards_every_path_and_runs_once_per_call() {
    let gate = Arc::new(Gate::default());
    let chain = Interceptors::new().with_shared_head(gate.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let greeter = GreeterServer::new(Counted::default()).with_interceptors(chain.clone());
    // Built here rather than by `net::serve`: a layered router has a type of its own.
    tokio::spawn(
        Server::builder()
            .layer(chain.head_layer(&[greeter_methods::METHODS]))
            .add_service(greeter)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let channel = net::channel(addr).await;

    // A path no service has: the layer answers before routing.
    let mut raw = tonic::client::Grpc::new(channel.clone());
    let unknown = |key: Option<&'static str>| {
        let mut request = Request::new(hello("x"));
        if let Some(key) = key {
            request.metadata_mut().insert("x-key", key.parse().unwrap());
        }
        request
    };
    let path = tonic::codegen::http::uri::PathAndQuery::from_static("/nowhere.v1.Nothing/Call");
    let codec = tonic_prost::ProstCodec::<HelloRequest, HelloResponse>::default();
    raw.ready().await.unwrap();
    let status = raw
        .unary(unknown(None), path.clone(), codec)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    raw.ready().await.unwrap();
    let codec = tonic_prost::ProstCodec::<HelloRequest, HelloResponse>::default();
    let status = raw
        .unary(unknown(Some("open")), path, codec)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert_eq!(gate.0.swap(0, Ordering::SeqCst), 2);

    // The Greeter carries the same chain: the layer ran it, the server does not run it again.
    let mut greeter = GreeterClient::new(channel).with_head_interceptor(|head: &mut Head<'_>| {
        head.metadata_mut().insert("x-key", "open".parse().unwrap());
        Ok(())
    });
    greeter.say_hello(hello("once")).await.unwrap();
    assert_eq!(gate.0.load(Ordering::SeqCst), 1);
}

async fn serve(server: GreeterServer<Counted>) -> SocketAddr {
    net::serve(Server::builder().add_service(server)).await
}
