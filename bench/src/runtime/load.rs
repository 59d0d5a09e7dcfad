//! The load generator: the plain tonic client (tonic-prost-build's, the same for every variant),
//! a fixed number of connections with a fixed number of calls in flight on each, a warm-up and
//! a fixed-duration window. Every call's status and every reply's text are checked: a failure
//! ends the run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use tonic::metadata::AsciiMetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};

use super::allocations;
use super::handlers;
use super::pb::tonic::HelloRequest;
use super::pb::tonic::greeter_client::GreeterClient;
use super::plan::Mode;
use super::server::CpuClock;

/// How hard and how long one window loads a server.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    pub connections: usize,
    /// Calls in flight on each connection.
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Requests per call of LotsOfGreetings and BidiHello.
    pub stream_len: usize,
}

/// What one window measured.
#[derive(Debug)]
pub struct Window {
    pub elapsed: Duration,
    /// Calls (unary) or streamed messages completed inside the window.
    pub units: u64,
    pub calls: u64,
    /// Per-call latency, in microseconds, of the calls completed inside the window.
    pub latencies_us: Vec<f64>,
    /// CPU time of the server thread during the window.
    pub server_cpu: Duration,
    /// CPU time of the load generator's thread during the window.
    pub client_cpu: Duration,
    /// Heap allocations the server thread made during the window.
    pub server_allocations: u64,
}

/// The requests every call sends and the replies it must get back.
#[derive(Debug)]
pub struct Fixture {
    authorization: AsciiMetadataValue,
    name: String,
    stream: Vec<HelloRequest>,
    hello: String,
    replies: [String; 4],
    greeting: String,
    bidi: Vec<String>,
}

impl Fixture {
    pub fn new(stream_len: usize) -> Self {
        let name = "你好吗？greeter".to_owned();
        let names: Vec<String> = (0..stream_len).map(|i| format!("在吗?{i}")).collect();
        Self {
            authorization: format!("Bearer {}", handlers::TOKEN)
                .parse()
                .expect("the token is ASCII"),
            hello: handlers::hello(&name),
            replies: handlers::lots_of_replies(&name),
            greeting: handlers::greetings(&names),
            bidi: names.iter().map(|n| handlers::bidi_reply(n)).collect(),
            stream: names
                .into_iter()
                .map(|name| HelloRequest { name })
                .collect(),
            name,
        }
    }

    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", self.authorization.clone());
        request
    }

    fn hello_request(&self) -> HelloRequest {
        HelloRequest {
            name: self.name.clone(),
        }
    }
}

/// One call of `mode`, checked; returns how many messages it counts for.
pub async fn call_once(
    client: &mut GreeterClient<Channel>,
    mode: Mode,
    fixture: &Fixture,
) -> Result<u64, String> {
    let status = |status: Status| format!("status {:?}: {}", status.code(), status.message());
    let mismatch = |got: &str, want: &str| format!("reply {got:?}, expected {want:?}");
    match mode {
        Mode::Unary => {
            let reply = client
                .say_hello(fixture.request(fixture.hello_request()))
                .await
                .map_err(status)?
                .into_inner()
                .reply;
            if reply != fixture.hello {
                return Err(mismatch(&reply, &fixture.hello));
            }
            Ok(1)
        }
        Mode::ServerStreaming => {
            let mut stream = client
                .lots_of_replies(fixture.request(fixture.hello_request()))
                .await
                .map_err(status)?
                .into_inner();
            expect_stream(&mut stream, &fixture.replies).await
        }
        Mode::ClientStreaming => {
            let requests = tokio_stream::iter(fixture.stream.clone());
            let reply = client
                .lots_of_greetings(fixture.request(requests))
                .await
                .map_err(status)?
                .into_inner()
                .reply;
            if reply != fixture.greeting {
                return Err(mismatch(&reply, &fixture.greeting));
            }
            Ok(fixture.stream.len() as u64)
        }
        Mode::Bidi => {
            let requests = tokio_stream::iter(fixture.stream.clone());
            let mut stream = client
                .bidi_hello(fixture.request(requests))
                .await
                .map_err(status)?
                .into_inner();
            expect_stream(&mut stream, &fixture.bidi).await
        }
    }
}

/// Reads a reply stream to its end (tonic checks the `grpc-status` trailer there), comparing
/// every reply with `expected`.
async fn expect_stream(
    stream: &mut tonic::Streaming<super::pb::tonic::HelloResponse>,
    expected: &[String],
) -> Result<u64, String> {
    let mut count = 0;
    while let Some(reply) = stream
        .message()
        .await
        .map_err(|s| format!("status {:?} mid-stream: {}", s.code(), s.message()))?
    {
        match expected.get(count) {
            Some(want) if *want == reply.reply => count += 1,
            Some(want) => {
                return Err(format!(
                    "reply {count} is {:?}, expected {want:?}",
                    reply.reply
                ));
            }
            None => return Err(format!("more than {} replies", expected.len())),
        }
    }
    if count != expected.len() {
        return Err(format!("{count} replies, expected {}", expected.len()));
    }
    Ok(count as u64)
}

/// Opens one HTTP/2 connection to `addr`.
pub async fn connect(addr: SocketAddr) -> Result<GreeterClient<Channel>, String> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| e.to_string())?
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    Ok(GreeterClient::new(channel))
}

const WARMING: u8 = 0;
const MEASURING: u8 = 1;
const STOPPED: u8 = 2;

#[derive(Default)]
struct Tally {
    units: u64,
    calls: u64,
    latencies_us: Vec<f64>,
}

async fn worker(
    mut client: GreeterClient<Channel>,
    mode: Mode,
    fixture: Arc<Fixture>,
    phase: Arc<AtomicU8>,
) -> Result<Tally, String> {
    let mut tally = Tally::default();
    while phase.load(Ordering::Relaxed) != STOPPED {
        let started = Instant::now();
        let units = match call_once(&mut client, mode, &fixture).await {
            Ok(units) => units,
            Err(error) => {
                phase.store(STOPPED, Ordering::Relaxed);
                return Err(error);
            }
        };
        if phase.load(Ordering::Relaxed) == MEASURING {
            tally.units += units;
            tally.calls += 1;
            tally
                .latencies_us
                .push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    Ok(tally)
}

/// Loads the server at `addr` with calls of `mode` for one window. Must run on a current-thread
/// runtime: the phase flips and the clock reads then bracket exactly the counted calls.
pub async fn measure(
    addr: SocketAddr,
    mode: Mode,
    config: &LoadConfig,
    fixture: &Arc<Fixture>,
    server_cpu: CpuClock,
) -> Result<Window, String> {
    let client_cpu = CpuClock::of_current_thread().map_err(|e| e.to_string())?;
    let phase = Arc::new(AtomicU8::new(WARMING));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..config.connections {
        let client = connect(addr).await?;
        for _ in 0..config.concurrency {
            workers.spawn(worker(client.clone(), mode, fixture.clone(), phase.clone()));
        }
    }
    tokio::time::sleep(config.warmup).await;
    let allocations_start = allocations::server_allocations();
    let (cpu_start, client_start, start) = (server_cpu.now(), client_cpu.now(), Instant::now());
    phase
        .compare_exchange(WARMING, MEASURING, Ordering::Relaxed, Ordering::Relaxed)
        .ok();
    tokio::time::sleep(config.duration).await;
    phase.store(STOPPED, Ordering::Relaxed);
    let (cpu_end, client_end, end) = (server_cpu.now(), client_cpu.now(), Instant::now());
    let allocations_end = allocations::server_allocations();

    let mut window = Window {
        elapsed: end - start,
        units: 0,
        calls: 0,
        latencies_us: Vec::new(),
        server_cpu: cpu_end.saturating_sub(cpu_start),
        client_cpu: client_end.saturating_sub(client_start),
        server_allocations: allocations_end.saturating_sub(allocations_start),
    };
    let joined = tokio::time::timeout(Duration::from_secs(30), async {
        let mut first_error = None;
        while let Some(outcome) = workers.join_next().await {
            match outcome.map_err(|e| format!("load task failed: {e}"))? {
                Ok(tally) => {
                    window.units += tally.units;
                    window.calls += tally.calls;
                    window.latencies_us.extend(tally.latencies_us);
                }
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    })
    .await;
    joined.map_err(|_| "calls still running 30 s after the window closed".to_owned())??;
    if window.calls == 0 {
        return Err("no call completed inside the window".to_owned());
    }
    Ok(window)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::handlers::Link;
    use crate::runtime::plan::Variant;
    use crate::runtime::server;

    #[tokio::test]
    async fn every_variant_passes_the_checks_and_rejections_fail_them() {
        let addrs = server::spawn_all(&Link::ALL).await.unwrap();
        let fixture = Fixture::new(3);
        for (variant, addr) in &addrs {
            let mut client = connect(*addr).await.unwrap();
            for mode in Mode::ALL {
                let units = call_once(&mut client, mode, &fixture)
                    .await
                    .unwrap_or_else(|e| panic!("{variant}, {mode}: {e}"));
                let expected = match mode {
                    Mode::Unary => 1,
                    Mode::ServerStreaming => 4,
                    Mode::ClientStreaming | Mode::Bidi => 3,
                };
                assert_eq!(units, expected, "{variant}, {mode}");
            }
        }
        // A rejected call is an error, though its HTTP status is 200.
        let mut wrong_token = Fixture::new(3);
        wrong_token.authorization = "Bearer wrong".parse().unwrap();
        for variant in [Variant::GreeterChain, Variant::TonicIntercepted] {
            let mut client = connect(addrs[&variant]).await.unwrap();
            for mode in Mode::ALL {
                let error = call_once(&mut client, mode, &wrong_token)
                    .await
                    .unwrap_err();
                assert!(
                    error.contains("Unauthenticated"),
                    "{variant}, {mode}: {error}"
                );
            }
        }
    }

    #[tokio::test]
    async fn a_window_counts_what_completed_inside_it() {
        let addrs = server::spawn_all(&Link::ALL).await.unwrap();
        let config = LoadConfig {
            connections: 1,
            concurrency: 2,
            warmup: Duration::from_millis(20),
            duration: Duration::from_millis(100),
            stream_len: 5,
        };
        // The server shares this thread here, so its clock is this thread's.
        let clock = CpuClock::of_current_thread().unwrap();
        let fixture = Arc::new(Fixture::new(config.stream_len));
        let window = measure(addrs[&Variant::Floor], Mode::Bidi, &config, &fixture, clock)
            .await
            .unwrap();
        assert!(window.calls > 0);
        assert_eq!(window.units, window.calls * 5);
        assert_eq!(window.latencies_us.len() as u64, window.calls);
        assert!(window.elapsed >= config.duration);
        assert!(window.server_cpu > Duration::ZERO);
    }
}
