//! The golden files, compiled: `tests/golden/` holds what the plugin writes for the Greeter and
//! stress protos (checked by the plugin's own tests). Including them here makes `cargo build`,
//! `cargo clippy -D warnings` and `cargo test --doc` judge the generated code itself, and the
//! integration tests in `tests/` run real calls through it.

/// The Greeter, as the plugin generates it.
pub mod greeter {
    include!("../golden/greeter/greeter.v1.rs");
}

/// The stress set: nested and multiple packages, cross-package imports, well-known types, a
/// service with no methods, every streaming kind, keyword and odd names, proto2 and proto3
/// `optional`.
pub mod stress_set {
    include!("../golden/stress/mod.rs");
}

/// The Greeter generated with `default_stubs`: every method has an UNIMPLEMENTED default.
pub mod greeter_stubs {
    include!(concat!(env!("OUT_DIR"), "/stubs/greeter.v1.rs"));
}

/// Loopback plumbing the integration tests share.
pub mod net {
    use std::net::SocketAddr;

    use tonic::transport::server::Router;
    use tonic::transport::{Channel, Endpoint};

    /// Serves `router` on a free loopback port for the rest of the test.
    pub async fn serve(router: Router) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        tokio::spawn(router.serve_with_incoming(incoming));
        addr
    }

    /// A channel connected to `addr`.
    pub async fn channel(addr: SocketAddr) -> Channel {
        Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }
}

/// The Python peers' interpreter: the venv `tests/python/venv.sh` makes (grpcio, grpcio-tools,
/// grpcio-status, grpcio-health-checking, grpcio-reflection, pytest, grpcurl, pinned in
/// `tests/python/requirements.txt`).
pub mod python {
    use std::path::PathBuf;
    use std::process::Command;
    use std::sync::OnceLock;

    /// The script that makes the venv.
    pub const VENV_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/venv.sh");

    /// The venv's `python`, made by the first caller of the process (the script locks against
    /// other processes). Panics with the script's output when it fails: these tests need
    /// python3 with venv and pip, and fail rather than skip without them.
    pub fn interpreter() -> PathBuf {
        static PYTHON: OnceLock<PathBuf> = OnceLock::new();
        PYTHON
            .get_or_init(|| {
                let output = Command::new(VENV_SCRIPT).output().unwrap_or_else(|error| {
                    panic!("cannot run {VENV_SCRIPT}: {error} (needs bash and python3)")
                });
                assert!(
                    output.status.success(),
                    "{VENV_SCRIPT} failed ({}); these tests need python3 with venv and pip\n--- stderr\n{}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr),
                );
                let path = String::from_utf8(output.stdout).expect("the venv path is UTF-8");
                PathBuf::from(path.trim_end())
            })
            .clone()
    }

    /// A program the venv installed (`grpcurl`, `pytest`), next to its interpreter.
    pub fn program(name: &str) -> PathBuf {
        interpreter().with_file_name(name)
    }
}

/// A log captured in memory, for tests of what interceptors log.
pub mod captured {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// A writer into a shared buffer: the captured log.
    #[derive(Debug, Clone, Default)]
    pub struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        /// Captures everything logged on this thread at TRACE (every crate: tonic, hyper, h2
        /// too) for as long as the guard lives. On a current-thread runtime the server's tasks
        /// log here as well.
        pub fn start() -> (Self, tracing::subscriber::DefaultGuard) {
            let log = Self::default();
            let writer = log.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .without_time()
                .with_writer(move || writer.clone())
                .finish();
            (log, tracing::subscriber::set_default(subscriber))
        }

        /// What was logged so far.
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }
}

/// A server of the stress set's `Typed` service: every method reads the request metadata its
/// contract declares and sends it back twice, as the headers (`h-` keys) and as the trailers
/// (`t-` keys), all through the generated `typed_contract` types.
pub mod typed {
    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio_stream::{Stream, StreamExt};
    use tonic::{Request, Response, Status, Streaming};

    use crate::stress_set::stress::api::v1::Item;
    use crate::stress_set::stress::api::v1::typed_contract::{
        Header, RequestMetadata, Trailer, strict,
    };
    use crate::stress_set::stress::api::v1::typed_server::Typed;

    /// The `r-tag` value that makes a call fail.
    pub const FAIL_TAG: &str = "fail";

    /// A stream of items, as the streaming methods send them.
    pub type ItemStream = Pin<Box<dyn Stream<Item = Result<Item, Status>> + Send>>;

    /// Echoes request metadata into headers and trailers; counts the handlers that ran.
    #[derive(Debug, Default, Clone)]
    pub struct Echo {
        handled: Arc<AtomicUsize>,
    }

    impl Echo {
        /// How many calls reached a handler.
        pub fn handled(&self) -> usize {
            self.handled.load(Ordering::SeqCst)
        }

        /// Reads the request metadata and answers with `message`, echoing it. A call tagged
        /// `fail` ends with ABORTED instead, the trailers attached to the status.
        fn respond<T, M>(&self, request: &Request<M>, message: T) -> Result<Response<T>, Status> {
            self.handled.fetch_add(1, Ordering::SeqCst);
            let metadata = RequestMetadata::from_request(request)?;
            if metadata.r_tag.iter().any(|tag| tag == FAIL_TAG) {
                let mut status = Status::aborted("tagged to fail");
                trailer(&metadata).attach_to(&mut status);
                return Err(status);
            }
            let mut response = Response::new(message);
            header(&metadata).send(&mut response);
            trailer(&metadata).send(&mut response);
            Ok(response)
        }
    }

    /// The request metadata, as headers.
    pub fn header(m: &RequestMetadata) -> Header {
        Header {
            h_string: m.r_string.clone(),
            h_int64: m.r_int64,
            h_uint64: m.r_uint64,
            h_bool: m.r_bool,
            h_double: m.r_double,
            h_bytes: m.r_bytes.clone(),
            h_duration: m.r_duration,
            h_timestamp: m.r_timestamp,
            h_enum: m.r_enum,
            h_message: m.r_message,
            h_tag: m.r_tag.clone(),
        }
    }

    /// The request metadata, as trailers.
    pub fn trailer(m: &RequestMetadata) -> Trailer {
        Trailer {
            t_string: m.r_string.clone(),
            t_int64: m.r_int64,
            t_uint64: m.r_uint64,
            t_bool: m.r_bool,
            t_double: m.r_double,
            t_bytes: m.r_bytes.clone(),
            t_duration: m.r_duration,
            t_timestamp: m.r_timestamp,
            t_enum: m.r_enum,
            t_message: m.r_message,
            t_tag: m.r_tag.clone(),
        }
    }

    fn item(id: impl Into<String>) -> Item {
        Item {
            id: id.into(),
            ..Item::default()
        }
    }

    impl Typed for Echo {
        async fn unary(&self, request: Request<Item>) -> Result<Response<Item>, Status> {
            let id = request.get_ref().id.clone();
            self.respond(&request, item(id))
        }

        type ServerStreamStream = ItemStream;

        async fn server_stream(
            &self,
            request: Request<Item>,
        ) -> Result<Response<ItemStream>, Status> {
            let id = request.get_ref().id.clone();
            let items = [item(format!("{id} 1")), item(format!("{id} 2"))];
            let stream: ItemStream = Box::pin(tokio_stream::iter(items.map(Ok)));
            self.respond(&request, stream)
        }

        async fn client_stream(
            &self,
            request: Request<Streaming<Item>>,
        ) -> Result<Response<Item>, Status> {
            let mut response = self.respond(&request, item(""))?;
            let mut ids = Vec::new();
            let mut stream = request.into_inner();
            while let Some(next) = stream.message().await? {
                ids.push(next.id);
            }
            response.get_mut().id = ids.join(" ");
            Ok(response)
        }

        type BidiStream = ItemStream;

        async fn bidi(
            &self,
            request: Request<Streaming<Item>>,
        ) -> Result<Response<ItemStream>, Status> {
            let placeholder: ItemStream = Box::pin(tokio_stream::empty());
            let mut response = self.respond(&request, placeholder)?;
            let echoed = request
                .into_inner()
                .map(|next| next.map(|next| item(format!("re {}", next.id))));
            *response.get_mut() = Box::pin(echoed);
            Ok(response)
        }

        async fn strict(&self, request: Request<Item>) -> Result<Response<Item>, Status> {
            self.handled.fetch_add(1, Ordering::SeqCst);
            let metadata = strict::RequestMetadata::from_request(&request)?;
            Ok(Response::new(item(metadata.r_int64.to_string())))
        }
    }
}

/// A Greeter whose behavior each request's `name` scripts, for the tests of the standard
/// interceptors, the same in all four modes:
///
/// - any other name: a reply `hello <name>` (unary, client streaming: `hello <last name>`;
///   server streaming: three replies; bidi: one reply per request);
/// - `panic`: the handler panics (streaming requests: when that message arrives);
/// - `panic-stream`: the response stream panics at its first item (streaming responses; a
///   unary or client-streaming handler panics instead);
/// - `sleep:<ms>`: the handler (or, for streaming responses, each item) waits that long first;
/// - `fail:<code>`: the call fails with that numeric gRPC code and message `scripted failure`;
/// - `deadline` (unary): the reply says the handler's deadline, from its request extensions:
///   `deadline in <ms> ms`, or `no deadline`.
///
/// A reply says who called when the request extensions carry a [`scripted::Caller`] (as an
/// auth interceptor leaves it): `hello <name> as <caller>`. It counts the handler runs that
/// began and those that finished or were dropped unfinished.
pub mod scripted {
    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use tokio_stream::{Stream, StreamExt};
    use tonic::{Code, Request, Response, Status, Streaming};

    use greeter_runtime::StreamingKind;
    use greeter_runtime::interceptor::Deadline;
    use tonic::metadata::MetadataMap;
    use tonic::transport::Channel;

    use crate::greeter::greeter_client::GreeterClient;
    use crate::greeter::greeter_server::Greeter;
    use crate::greeter::{HelloRequest, HelloResponse};

    /// Who made a call, as an auth interceptor hands it to the handler.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Caller(pub String);

    /// The reply text for `name` from the caller in `extensions`, if any.
    fn greeting(name: &str, extensions: &tonic::Extensions) -> String {
        match extensions.get::<Caller>() {
            Some(Caller(caller)) => format!("hello {name} as {caller}"),
            None => format!("hello {name}"),
        }
    }

    /// One call of the Greeter in `mode` with `metadata` on the request: the single-request
    /// modes send `names[0]`, the streaming ones every name. The replies that arrived (up to a
    /// stream's failure), and how the call ended.
    pub async fn call(
        client: &mut GreeterClient<Channel>,
        mode: StreamingKind,
        names: &[&str],
        metadata: &MetadataMap,
    ) -> (Vec<String>, Result<(), Status>) {
        fn with<T>(message: T, metadata: &MetadataMap) -> Request<T> {
            let mut request = Request::new(message);
            *request.metadata_mut() = metadata.clone();
            request
        }
        let request = |message| with(message, metadata);
        let streamed_request = |stream| with(stream, metadata);
        let hello = |name: &str| HelloRequest { name: name.into() };
        let stream = tokio_stream::iter(names.iter().map(|name| hello(name)).collect::<Vec<_>>());
        let streamed = match mode {
            StreamingKind::Unary => client.say_hello(request(hello(names[0]))).await,
            StreamingKind::ClientStreaming => {
                client.lots_of_greetings(streamed_request(stream)).await
            }
            StreamingKind::ServerStreaming => {
                let response = client.lots_of_replies(request(hello(names[0]))).await;
                return drain(response).await;
            }
            StreamingKind::BidiStreaming => {
                return drain(client.bidi_hello(streamed_request(stream)).await).await;
            }
        };
        match streamed {
            Ok(response) => (vec![response.into_inner().reply], Ok(())),
            Err(status) => (Vec::new(), Err(status)),
        }
    }

    /// Reads a response stream to its end or its failure.
    async fn drain(
        response: Result<Response<Streaming<HelloResponse>>, Status>,
    ) -> (Vec<String>, Result<(), Status>) {
        let mut replies = Vec::new();
        let mut stream = match response {
            Ok(response) => response.into_inner(),
            Err(status) => return (replies, Err(status)),
        };
        while let Some(item) = stream.next().await {
            match item {
                Ok(reply) => replies.push(reply.reply),
                Err(status) => return (replies, Err(status)),
            }
        }
        (replies, Ok(()))
    }

    /// The response streams of [`Scripted`].
    pub type ReplyStream = Pin<Box<dyn Stream<Item = Result<HelloResponse, Status>> + Send>>;

    /// Counts of handler runs, shared with the test.
    #[derive(Debug, Default)]
    pub struct Runs {
        /// Handler runs that began.
        pub started: AtomicUsize,
        /// Handler runs (or response streams) that ran to their end.
        pub finished: AtomicUsize,
        /// Handler runs (or response streams) dropped before their end.
        pub dropped: AtomicUsize,
    }

    /// The scripted Greeter; clone its `runs` before serving it.
    #[derive(Debug, Default, Clone)]
    pub struct Scripted {
        /// Shared with the test.
        pub runs: Arc<Runs>,
    }

    /// Counts a run as finished when told, as dropped if it goes away first.
    struct RunGuard(Arc<Runs>, bool);

    impl RunGuard {
        fn start(runs: &Arc<Runs>) -> Self {
            runs.started.fetch_add(1, Ordering::SeqCst);
            Self(Arc::clone(runs), false)
        }

        fn finish(mut self) {
            self.1 = true;
            self.0.finished.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Drop for RunGuard {
        fn drop(&mut self) {
            if !self.1 {
                self.0.dropped.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    /// What a request's name asks for, after the scripted actions that come before a reply.
    async fn act(name: &str, panic_stream_here: bool) -> Result<(), Status> {
        if name == "panic" || (panic_stream_here && name == "panic-stream") {
            panic!("scripted panic for {name}: secret-panic-text");
        }
        if let Some(ms) = name.strip_prefix("sleep:") {
            let ms = ms
                .parse()
                .map_err(|_| Status::invalid_argument("sleep:<ms>"))?;
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if let Some(code) = name.strip_prefix("fail:") {
            let code = code
                .parse()
                .map_err(|_| Status::invalid_argument("fail:<code>"))?;
            return Err(Status::new(Code::from_i32(code), "scripted failure"));
        }
        Ok(())
    }

    fn reply(text: String) -> HelloResponse {
        HelloResponse { reply: text }
    }

    /// A response stream that acts on `names` one item at a time, counting its run.
    fn scripted_stream(
        runs: &Arc<Runs>,
        caller: Option<Caller>,
        names: impl Stream<Item = Result<String, Status>> + Send + 'static,
    ) -> ReplyStream {
        let guard = RunGuard::start(runs);
        let mut guard = Some(guard);
        let mut extensions = tonic::Extensions::new();
        if let Some(caller) = caller {
            extensions.insert(caller);
        }
        let stream = async_stream_of(names, extensions).chain(tokio_stream::iter(
            std::iter::from_fn(move || {
                if let Some(guard) = guard.take() {
                    guard.finish();
                }
                None
            }),
        ));
        Box::pin(stream)
    }

    fn async_stream_of(
        names: impl Stream<Item = Result<String, Status>> + Send + 'static,
        extensions: tonic::Extensions,
    ) -> impl Stream<Item = Result<HelloResponse, Status>> + Send + 'static {
        let extensions = Arc::new(extensions);
        names.then(move |name| {
            let extensions = Arc::clone(&extensions);
            async move {
                let name = name?;
                act(&name, true).await?;
                Ok(reply(greeting(&name, &extensions)))
            }
        })
    }

    impl Greeter for Scripted {
        async fn say_hello(
            &self,
            request: Request<HelloRequest>,
        ) -> Result<Response<HelloResponse>, Status> {
            let guard = RunGuard::start(&self.runs);
            if request.get_ref().name == "deadline" {
                let deadline = request.extensions().get::<Deadline>();
                guard.finish();
                return Ok(Response::new(reply(match deadline {
                    Some(deadline) => {
                        format!("deadline in {} ms", deadline.remaining().as_millis())
                    }
                    None => "no deadline".to_owned(),
                })));
            }
            let text = greeting(&request.get_ref().name, request.extensions());
            act(&request.into_inner().name, true).await?;
            guard.finish();
            Ok(Response::new(reply(text)))
        }

        type LotsOfRepliesStream = ReplyStream;

        async fn lots_of_replies(
            &self,
            request: Request<HelloRequest>,
        ) -> Result<Response<ReplyStream>, Status> {
            let caller = request.extensions().get::<Caller>().cloned();
            let name = request.into_inner().name;
            act(&name, false).await?;
            let names = tokio_stream::iter((0..3).map(move |_| Ok(name.clone())));
            Ok(Response::new(scripted_stream(&self.runs, caller, names)))
        }

        async fn lots_of_greetings(
            &self,
            request: Request<Streaming<HelloRequest>>,
        ) -> Result<Response<HelloResponse>, Status> {
            let guard = RunGuard::start(&self.runs);
            let extensions = request.extensions().clone();
            let mut stream = request.into_inner();
            let mut last = String::new();
            while let Some(request) = stream.next().await {
                last = request?.name;
                act(&last, true).await?;
            }
            guard.finish();
            Ok(Response::new(reply(greeting(&last, &extensions))))
        }

        type BidiHelloStream = ReplyStream;

        async fn bidi_hello(
            &self,
            request: Request<Streaming<HelloRequest>>,
        ) -> Result<Response<ReplyStream>, Status> {
            let caller = request.extensions().get::<Caller>().cloned();
            let names = request
                .into_inner()
                .map(|request| request.map(|request| request.name));
            Ok(Response::new(scripted_stream(&self.runs, caller, names)))
        }
    }
}

/// A private etcd for a test: started by `tests/etcd/etcd.sh` (which installs Debian's
/// etcd-server when no `etcd` is on PATH) on free loopback ports in a temp dir, stopped and
/// removed on drop.
pub mod etcd {
    use std::net::TcpListener;
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    /// The script that installs and starts etcd.
    pub const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/etcd/etcd.sh");

    /// A running etcd; killed (and its data removed) on drop.
    pub struct PrivateEtcd {
        child: Child,
        data: PathBuf,
        url: String,
    }

    impl PrivateEtcd {
        /// Starts one and waits until it answers (at most 30 s). Panics, with the reason, when
        /// etcd cannot be installed or started: these tests need a real etcd.
        pub fn start() -> Self {
            let free_port = || {
                TcpListener::bind("127.0.0.1:0")
                    .and_then(|listener| listener.local_addr())
                    .expect("a free loopback port")
                    .port()
            };
            let (client, peer) = (free_port(), free_port());
            let data =
                std::env::temp_dir().join(format!("greeter-etcd-{}-{client}", std::process::id()));
            let _ = std::fs::remove_dir_all(&data);
            let child = Command::new(SCRIPT)
                .arg(&data)
                .arg(client.to_string())
                .arg(peer.to_string())
                .stdin(Stdio::null())
                .spawn()
                .unwrap_or_else(|error| panic!("cannot run {SCRIPT}: {error}"));
            let mut etcd = Self {
                child,
                data,
                url: format!("http://127.0.0.1:{client}"),
            };
            etcd.wait_until_healthy(Duration::from_secs(30));
            etcd
        }

        /// Its client URL, `http://127.0.0.1:<port>`.
        pub fn url(&self) -> &str {
            &self.url
        }

        fn wait_until_healthy(&mut self, limit: Duration) {
            let started = Instant::now();
            let addr = self.url.trim_start_matches("http://").to_owned();
            loop {
                if let Some(status) = self.child.try_wait().expect("etcd's status") {
                    panic!("etcd exited before answering ({status}); see the output above");
                }
                if health(&addr) {
                    return;
                }
                assert!(
                    started.elapsed() < limit,
                    "etcd did not answer on {} within {limit:?}",
                    self.url
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// `GET /health` answers `"health":"true"`.
    fn health(addr: &str) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let request = format!("GET /health HTTP/1.0\r\nHost: {addr}\r\n\r\n");
        let mut answer = String::new();
        stream.write_all(request.as_bytes()).is_ok()
            && stream.read_to_string(&mut answer).is_ok()
            && answer.contains("\"health\":\"true\"")
    }

    impl Drop for PrivateEtcd {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.data);
        }
    }
}
