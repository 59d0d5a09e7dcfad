//! The Greeter client: connecting with credentials, one function per command, and printing of
//! what came back.
//!
//! Every command returns the structured outcome (a [`Reply`] or the failed call's `Status`);
//! [`Reply::lines`] and [`report::describe_status`] turn outcomes into the text `greeter-client`
//! prints. Streams are printed as they arrive ([`print_replies`], [`chat`]), never held whole.
//!
//! Every call has a deadline ([`ClientConfig::timeout`], 5 s unless told otherwise), streams
//! included: a stalled server ends the call DEADLINE_EXCEEDED instead of hanging the client.

mod chat;
pub mod report;

pub use crate::server::units::parse_duration;
pub use chat::chat;

use std::error::Error;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use greeter_runtime::interceptors::{BearerToken, DefaultDeadline, InvalidMetadata, Retry, Timing};
use greeter_runtime::metadata::ResponseExt;
use tokio_stream::{Stream, StreamExt};
use tonic::codegen::http::Uri;
use tonic::codegen::http::uri::Scheme;
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status, Streaming};

use crate::pb::{HelloRequest, HelloResponse, greeter_client, greeter_contract};

/// Errors of setting up a client.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// The generated client over a tonic channel, as [`connect`] builds it.
pub type GreeterClient = greeter_client::GreeterClient<Channel>;

/// Default server URL.
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:50051";
/// Default name to greet.
pub const DEFAULT_NAME: &str = "world";
/// Default bearer token.
pub const DEFAULT_TOKEN: &str = "some-secret-token";
/// Default deadline of every call, and limit on connecting: long enough for any Greeter call
/// over a slow link, short enough that a stalled server is noticed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Limit on connecting when calls have no deadline (gRPC's minimum connect timeout).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Names the `all` command sends to `LotsOfGreetings` after the configured one.
pub const SAMPLE_NAMES: [&str; 2] = ["张三", "李四"];
/// Lines the `all` command sends to `BidiHello`.
pub const SAMPLE_LINES: [&str; 3] = ["你好吗？", "在吗?", "能听懂汉语吗？"];

/// How to reach the server. [`Default`] gives the documented defaults of `greeter-client`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Server URL, `http://…` or (with TLS) `https://…`.
    pub addr: String,
    /// Name to greet.
    pub name: String,
    /// Token sent as `authorization: Bearer <token>`.
    pub token: String,
    /// PEM file of the CA that signed the server's certificate; setting it turns TLS on, and TLS
    /// (an `https://` address, or `tls_domain`) needs it: no system roots are trusted.
    pub tls_ca: Option<PathBuf>,
    /// Name to verify the server's certificate against, when it differs from the URL's host.
    pub tls_domain: Option<String>,
    /// Deadline of every call made through [`connect`]'s client, streams included (the server
    /// gets it as `grpc-timeout`), and the limit on connecting; `None`: calls have no deadline
    /// and connecting gives up after [`DEFAULT_CONNECT_TIMEOUT`].
    pub timeout: Option<Duration>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            addr: DEFAULT_ADDR.to_owned(),
            name: DEFAULT_NAME.to_owned(),
            token: DEFAULT_TOKEN.to_owned(),
            tls_ca: None,
            tls_domain: None,
            timeout: Some(DEFAULT_TIMEOUT),
        }
    }
}

/// Connects to `config.addr` (with TLS when configured) and returns a client with the example's
/// client chain ([`with_credentials`]) and, with a `config.timeout`, that deadline on every call
/// ([`DefaultDeadline`]: a caller's own `grpc-timeout` wins).
pub async fn connect(config: &ClientConfig) -> Result<GreeterClient, BoxError> {
    let (channel, origin) = open_channel(config).await?;
    let plaintext_ok = is_loopback(&origin);
    with_settings(channel, origin, config, plaintext_ok)
}

/// The client [`connect`] makes, over any `channel` (one balanced over discovered servers, say):
/// the client chain of [`with_credentials`], the token allowed over plaintext when
/// `plaintext_ok`, and `config.timeout` as every call's deadline.
pub fn with_settings(
    channel: Channel,
    origin: Uri,
    config: &ClientConfig,
    plaintext_ok: bool,
) -> Result<GreeterClient, BoxError> {
    let client = client_chain(channel, origin, &config.token, plaintext_ok)?;
    Ok(match config.timeout {
        Some(timeout) => client.with_head_interceptor(DefaultDeadline::all(timeout)),
        None => client,
    })
}

/// Opens the connection [`connect`] uses, and returns it with the origin to call: `config.addr`,
/// over TLS when it is `https://` or `tls_ca` or `tls_domain` is set (an `http://` address then
/// becomes `https://`, rather than sending the token in the clear against the user's wish).
/// TLS needs `tls_ca`: this build trusts no system roots.
pub async fn open_channel(config: &ClientConfig) -> Result<(Channel, Uri), BoxError> {
    let invalid =
        |error: &dyn std::fmt::Display| format!("invalid address {:?}: {error}", config.addr);
    let mut uri: Uri = config.addr.parse().map_err(|error| invalid(&error))?;
    let https = uri.scheme() == Some(&Scheme::HTTPS);
    let tls_on = https || config.tls_ca.is_some() || config.tls_domain.is_some();
    if tls_on && config.tls_ca.is_none() {
        // This build of tonic trusts no system roots: say so rather than fail the handshake.
        let addr = &config.addr;
        return Err(format!("TLS to {addr} needs the CA that signed the server (--tls-ca)").into());
    }
    if tls_on && uri.scheme() == Some(&Scheme::HTTP) {
        let mut parts = uri.into_parts();
        parts.scheme = Some(Scheme::HTTPS);
        uri = Uri::from_parts(parts).map_err(|error| invalid(&error))?;
    }
    let mut endpoint =
        Endpoint::from(uri).connect_timeout(config.timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT));
    if let Some(ca) = config.tls_ca.as_deref().filter(|_| tls_on) {
        endpoint =
            endpoint.tls_config(crate::tls::client_tls(ca, config.tls_domain.as_deref())?)?;
    }
    let origin = endpoint.uri().clone();
    let channel = endpoint
        .connect()
        .await
        .map_err(|error| format!("cannot connect to {origin}: {}", crate::error_chain(&error)))?;
    Ok((channel, origin))
}

/// Builds a client over `channel` to `origin` with the example's client chain, outermost first:
///
/// 1. [`BearerToken`]: the token on every call, over TLS only; plaintext is allowed explicitly
///    for a loopback `origin` (the local demo), and refused (UNAUTHENTICATED, before anything is
///    sent) for any other host;
/// 2. `client-os: <this OS>`, as the Greeter's contract declares it;
/// 3. [`Timing`]: each call's duration, logged at DEBUG (`RUST_LOG=greeter_runtime=debug`);
/// 4. [`Retry`]: calls of methods the proto marks side-effect free (`LotsOfReplies`) are sent
///    again on UNAVAILABLE, up to three attempts with jittered backoff.
///
/// Fails when `token` cannot be sent as metadata.
pub fn with_credentials(
    channel: Channel,
    origin: Uri,
    token: &str,
) -> Result<GreeterClient, InvalidMetadata> {
    let plaintext_ok = is_loopback(&origin);
    client_chain(channel, origin, token, plaintext_ok)
}

fn client_chain(
    channel: Channel,
    origin: Uri,
    token: &str,
    plaintext_ok: bool,
) -> Result<GreeterClient, InvalidMetadata> {
    let mut credentials = BearerToken::new(token)?;
    if plaintext_ok {
        credentials = credentials.allow_plaintext();
    }
    Ok(GreeterClient::with_origin(channel, origin)
        .with_head_interceptor(credentials)
        .with_head_interceptor(client_os)
        .with_call_interceptor(Timing::new())
        .with_call_interceptor(Retry::new()))
}

/// Whether `uri` names this machine (`localhost`, `127.0.0.0/8`, `::1`).
fn is_loopback(uri: &Uri) -> bool {
    uri.host().is_some_and(is_loopback_host)
}

/// Whether `host` (a name or an address, IPv6 in brackets or not) is this machine.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Sets the `client-os` request metadata every Greeter method declares.
fn client_os(head: &mut greeter_runtime::interceptor::Head<'_>) -> Result<(), Status> {
    greeter_contract::RequestMetadata {
        client_os: Some(std::env::consts::OS.to_owned()),
    }
    .write_to(head.metadata_mut());
    Ok(())
}

/// What a successful call brought back: its message(s) and metadata.
#[derive(Debug, Clone)]
pub struct Reply<T> {
    /// The reply text (one `String`), or the texts of a stream in order (`Vec<String>`).
    pub message: T,
    /// Response headers.
    pub headers: MetadataMap,
    /// Response trailers, apart from the headers in every mode (the generated client keeps them
    /// apart where tonic's unary path merges them).
    pub trailers: MetadataMap,
}

impl Reply<String> {
    /// `<prefix><reply>`, then one line per header and trailer.
    pub fn lines(&self, prefix: &str) -> Vec<String> {
        describe(
            prefix,
            [self.message.as_str()],
            &self.headers,
            &self.trailers,
        )
    }
}

impl Reply<Vec<String>> {
    /// `<prefix><reply>` per reply, then one line per header and trailer.
    pub fn lines(&self, prefix: &str) -> Vec<String> {
        let texts = self.message.iter().map(String::as_str);
        describe(prefix, texts, &self.headers, &self.trailers)
    }
}

fn describe<'a>(
    prefix: &str,
    texts: impl IntoIterator<Item = &'a str>,
    headers: &MetadataMap,
    trailers: &MetadataMap,
) -> Vec<String> {
    let mut lines: Vec<String> = texts.into_iter().map(|t| format!("{prefix}{t}")).collect();
    lines.extend(report::describe_metadata("header", headers));
    lines.extend(report::describe_metadata("trailer", trailers));
    lines
}

fn request(name: &str) -> HelloRequest {
    HelloRequest {
        name: name.to_owned(),
    }
}

/// `SayHello` for `name`.
pub async fn say_hello(client: &mut GreeterClient, name: &str) -> Result<Reply<String>, Status> {
    say_hello_request(client, Request::new(request(name))).await
}

/// `SayHello` with a request built by the caller, say with `request-id` metadata attached.
pub async fn say_hello_request(
    client: &mut GreeterClient,
    request: Request<HelloRequest>,
) -> Result<Reply<String>, Status> {
    let response = client.say_hello(request).await?;
    let trailers = response.trailers().unwrap_or_default();
    let (headers, message, _) = response.into_parts();
    Ok(Reply {
        message: message.reply,
        headers,
        trailers,
    })
}

/// `LotsOfReplies` for `name`: every reply of the stream, in order, kept in memory (the Greeter
/// sends four). To print a stream of any length as it comes, use [`lots_of_replies_stream`].
pub async fn lots_of_replies(
    client: &mut GreeterClient,
    name: &str,
) -> Result<Reply<Vec<String>>, Status> {
    lots_of_replies_stream(client, name).await?.collect().await
}

/// Starts `LotsOfReplies` for `name`: read the replies as they arrive from the returned
/// [`ReplyStream`].
pub async fn lots_of_replies_stream(
    client: &mut GreeterClient,
    name: &str,
) -> Result<ReplyStream, Status> {
    let response = client.lots_of_replies(request(name)).await?;
    Ok(ReplyStream::new(response))
}

/// `LotsOfGreetings`, streaming `names` to the server.
pub async fn lots_of_greetings(
    client: &mut GreeterClient,
    names: Vec<String>,
) -> Result<Reply<String>, Status> {
    let requests = tokio_stream::iter(names.into_iter().map(|name| HelloRequest { name }));
    let response = client.lots_of_greetings(requests).await?;
    let trailers = response.trailers().unwrap_or_default();
    let (headers, message, _) = response.into_parts();
    Ok(Reply {
        message: message.reply,
        headers,
        trailers,
    })
}

/// Starts `BidiHello`, sending each of `lines` as it comes; read the answers as they arrive from
/// the returned [`ReplyStream`]. The call ends once `lines` ends and the server has answered.
pub async fn bidi(
    client: &mut GreeterClient,
    lines: impl Stream<Item = String> + Send + 'static,
) -> Result<ReplyStream, Status> {
    let response = client
        .bidi_hello(lines.map(|name| HelloRequest { name }))
        .await?;
    Ok(ReplyStream::new(response))
}

/// `BidiHello` over a fixed list of lines: every answer, in order.
pub async fn bidi_lines(
    client: &mut GreeterClient,
    lines: Vec<String>,
) -> Result<Reply<Vec<String>>, Status> {
    bidi(client, tokio_stream::iter(lines))
        .await?
        .collect()
        .await
}

/// The replies of a server-streaming or bidi call, read as they arrive.
#[derive(Debug)]
pub struct ReplyStream {
    headers: MetadataMap,
    replies: Streaming<HelloResponse>,
}

impl ReplyStream {
    fn new(response: tonic::Response<Streaming<HelloResponse>>) -> Self {
        let (headers, replies, _) = response.into_parts();
        Self { headers, replies }
    }

    /// The response headers, which arrive before any reply.
    pub fn headers(&self) -> &MetadataMap {
        &self.headers
    }

    /// The next reply text, or `None` once the server has finished.
    pub async fn next(&mut self) -> Result<Option<String>, Status> {
        Ok(self.replies.message().await?.map(|response| response.reply))
    }

    /// The trailers, once every reply has been read (empty if the server sent none).
    pub async fn trailers(&mut self) -> Result<MetadataMap, Status> {
        Ok(self.replies.trailers().await?.unwrap_or_default())
    }

    /// Reads every remaining reply, then the trailers.
    pub async fn collect(mut self) -> Result<Reply<Vec<String>>, Status> {
        let mut message = Vec::new();
        while let Some(reply) = self.next().await? {
            message.push(reply);
        }
        let trailers = self.trailers().await?;
        Ok(Reply {
            message,
            headers: self.headers,
            trailers,
        })
    }
}

/// Writes `lines`, one per line.
pub fn write_lines(out: &mut impl Write, lines: &[String]) -> io::Result<()> {
    lines.iter().try_for_each(|line| writeln!(out, "{line}"))
}

/// Writes the headers of `replies`, then `<prefix><reply>` for each reply the moment it
/// arrives (flushed, then dropped: a stream of any length takes no more memory than one reply),
/// then the trailers. Returns how many replies came, or the status the call failed with (the
/// replies before it are written); only a failure to write to `out` is the outer `Err`.
pub async fn print_replies(
    mut replies: ReplyStream,
    prefix: &str,
    out: &mut impl Write,
) -> io::Result<Result<usize, Status>> {
    write_lines(out, &report::describe_metadata("header", replies.headers()))?;
    out.flush()?;
    let mut count = 0;
    loop {
        match replies.next().await {
            Ok(Some(reply)) => {
                writeln!(out, "{prefix}{reply}")?;
                out.flush()?;
                count += 1;
            }
            Ok(None) => break,
            Err(status) => return Ok(Err(status)),
        }
    }
    match replies.trailers().await {
        Ok(trailers) => write_lines(out, &report::describe_metadata("trailer", &trailers))?,
        Err(status) => return Ok(Err(status)),
    }
    out.flush()?;
    Ok(Ok(count))
}

/// Runs every command for `name` (say-hello, lots-of-replies, lots-of-greetings with `name` and
/// [`SAMPLE_NAMES`], bidi with [`SAMPLE_LINES`]) and writes what happened to `out`, stream
/// replies as they arrive, going on after a failed call. Returns the failed calls as
/// `(command, status)`; empty when all succeeded. Only a failure to write to `out` is an `Err`.
pub async fn all(
    client: &mut GreeterClient,
    name: &str,
    out: &mut impl Write,
) -> io::Result<Vec<(&'static str, Status)>> {
    let mut failures = Vec::new();
    let mut report = |out: &mut dyn Write,
                      command,
                      outcome: Result<(), Status>,
                      describe: fn(&Status) -> Vec<String>| {
        if let Err(status) = outcome {
            let lines = describe(&status);
            failures.push((command, status));
            lines.iter().try_for_each(|line| writeln!(out, "{line}"))?;
        }
        out.flush()
    };

    writeln!(out, "== say-hello")?;
    let outcome = match say_hello(client, name).await {
        Ok(reply) => Ok(write_lines(out, &reply.lines("reply: "))?),
        Err(status) => Err(status),
    };
    report(out, "say-hello", outcome, report::describe_say_hello_error)?;

    writeln!(out, "== lots-of-replies")?;
    let outcome = match lots_of_replies_stream(client, name).await {
        Ok(replies) => print_replies(replies, "reply: ", out).await?.map(drop),
        Err(status) => Err(status),
    };
    report(out, "lots-of-replies", outcome, report::describe_status)?;

    writeln!(out, "== lots-of-greetings")?;
    let names = std::iter::once(name).chain(SAMPLE_NAMES).map(str::to_owned);
    let outcome = match lots_of_greetings(client, names.collect()).await {
        Ok(reply) => Ok(write_lines(out, &reply.lines("reply: "))?),
        Err(status) => Err(status),
    };
    report(out, "lots-of-greetings", outcome, report::describe_status)?;

    writeln!(out, "== bidi")?;
    let lines = SAMPLE_LINES.iter().map(|&line| line.to_owned());
    let outcome = match bidi(client, tokio_stream::iter(lines)).await {
        Ok(replies) => print_replies(replies, "AI：", out).await?.map(drop),
        Err(status) => Err(status),
    };
    report(out, "bidi", outcome, report::describe_status)?;
    Ok(failures)
}
