//! `greeter-demo`: starts a Greeter server in-process on a free loopback port, runs every command
//! against it (including the failures: quota, bad token, bad metadata), prints what happens, and
//! exits non-zero if anything did not go as expected. A one-command smoke test.

use std::fmt::Debug;
use std::process::ExitCode;

use greeter_examples::client::{self, ClientConfig, GreeterClient, report};
use greeter_examples::pb::HelloRequest;
use greeter_examples::pb::greeter_contract::{self, bidi_hello, say_hello};
use greeter_examples::pb::greeter_methods::SERVICE_NAME;
use greeter_examples::server::{self, ServerConfig, text};
use greeter_runtime::status::{BadRequest, Details};
use tonic::transport::Endpoint;
use tonic::{Code, Request, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

/// The name the demo's server panics on (`greeter-server --panic-on`).
const PANIC_NAME: &str = "Bobby Panic";

/// Counts the checks that failed.
#[derive(Default)]
struct Checks {
    failed: Vec<String>,
}

impl Checks {
    fn expect_eq<T: PartialEq + Debug>(&mut self, what: &str, actual: T, expected: T) {
        if actual == expected {
            println!("   ok: {what}");
        } else {
            println!("   FAILED: {what}: got {actual:?}, expected {expected:?}");
            self.failed.push(what.to_owned());
        }
    }

    /// Prints the outcome of a call and returns its value when it succeeded as expected.
    fn expect_ok<T>(&mut self, what: &str, outcome: Result<T, Status>) -> Option<T> {
        match outcome {
            Ok(value) => Some(value),
            Err(status) => {
                print_lines(&report::describe_status(&status));
                println!("   FAILED: {what}: the call failed");
                self.failed.push(what.to_owned());
                None
            }
        }
    }

    /// Prints the status of a call expected to fail and returns it when it has `code`.
    fn expect_err<T>(
        &mut self,
        what: &str,
        outcome: Result<T, Status>,
        code: Code,
    ) -> Option<Status> {
        match outcome {
            Err(status) => {
                print_lines(&report::describe_status(&status));
                self.expect_eq(&format!("{what}: status code"), status.code(), code);
                Some(status)
            }
            Ok(_) => {
                println!("   FAILED: {what}: the call succeeded");
                self.failed.push(what.to_owned());
                None
            }
        }
    }
}

fn print_lines(lines: &[String]) {
    for line in lines {
        println!("   {line}");
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|&item| item.to_owned()).collect()
}

#[tokio::main]
async fn main() -> ExitCode {
    // The server's call logs and recovered panics, on stderr, when asked: RUST_LOG=info.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            // Colours only for a terminal, not in a log file.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    match run().await {
        Ok(failed) if failed.is_empty() => {
            println!("\ngreeter-demo: every check passed");
            ExitCode::SUCCESS
        }
        Ok(failed) => {
            println!(
                "\ngreeter-demo: {} check(s) FAILED: {}",
                failed.len(),
                failed.join("; ")
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("greeter-demo: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<Vec<String>, server::BoxError> {
    let server = server::LocalServer::start(ServerConfig {
        quota: 1,
        // SayHello panics on this name: the demo shows the server recover from it.
        panic_on: Some(PANIC_NAME.to_owned()),
        ..ServerConfig::default()
    })
    .await?;
    let addr = server.addr;
    println!(
        "server: listening on {addr} (token {}, quota 1 per name)",
        server::DEFAULT_TOKEN
    );

    let client_config = ClientConfig {
        addr: format!("http://{addr}"),
        ..ClientConfig::default()
    };
    let mut client = client::connect(&client_config).await?;
    let mut checks = Checks::default();
    calls(&mut client, &mut checks).await;
    failures(&client_config, &mut client, &mut checks).await?;
    services(&client_config, &mut checks).await?;

    println!("\n== all (greeter-client all --name demo)");
    let failed = client::all(&mut client, "demo", &mut std::io::stdout().lock()).await?;
    checks.expect_eq("all: failed commands", failed.len(), 0);

    server.stop().await?;
    println!("server: stopped");
    Ok(checks.failed)
}

/// Whether a `timestamp` trailer is plausible (unix seconds, after 2023).
fn recent(timestamp: i64) -> bool {
    timestamp > 1_700_000_000
}

/// The four call kinds, succeeding.
async fn calls(client: &mut GreeterClient, checks: &mut Checks) {
    println!("\n== say-hello --name world, with request-id 7");
    let mut request = Request::new(HelloRequest {
        name: "world".to_owned(),
    });
    say_hello::RequestMetadata {
        request_id: Some(7),
        client_os: Some(std::env::consts::OS.to_owned()),
    }
    .write_to(request.metadata_mut());
    let outcome = client::say_hello_request(client, request).await;
    if let Some(reply) = checks.expect_ok("say-hello", outcome) {
        print_lines(&reply.lines("reply: "));
        checks.expect_eq("say-hello: reply", reply.message.as_str(), "Hello world");
        // Read through the types greeter.proto declares, headers and trailers apart.
        let header = greeter_contract::Header::from_metadata(&reply.headers);
        checks.expect_eq(
            "say-hello: location header",
            header.map(|h| h.location),
            Ok(server::DEFAULT_LOCATION.to_owned()),
        );
        let trailer = say_hello::Trailer::from_metadata(&reply.trailers);
        checks.expect_eq(
            "say-hello: timestamp trailer, apart from the headers",
            (
                trailer.is_ok_and(|t| recent(t.timestamp)),
                say_hello::Trailer::from_metadata(&reply.headers).is_ok(),
            ),
            (true, false),
        );
    }

    println!("\n== lots-of-replies --name world");
    let outcome = client::lots_of_replies(client, "world").await;
    if let Some(reply) = checks.expect_ok("lots-of-replies", outcome) {
        print_lines(&reply.lines("reply: "));
        checks.expect_eq(
            "lots-of-replies: replies",
            reply.message,
            text::lots_of_replies("world").to_vec(),
        );
    }

    println!("\n== lots-of-greetings 张三 李四 王五");
    let names = strings(&["张三", "李四", "王五"]);
    let outcome = client::lots_of_greetings(client, names).await;
    if let Some(reply) = checks.expect_ok("lots-of-greetings", outcome) {
        print_lines(&reply.lines("reply: "));
        checks.expect_eq(
            "lots-of-greetings: reply",
            reply.message.as_str(),
            "你好：张三李四王五",
        );
    }

    println!("\n== bidi");
    let lines = strings(&["你好吗？", "在吗?", "能听懂汉语吗？", "真的吗？"]);
    for line in &lines {
        println!("   me：{line}");
    }
    if let Some(reply) = checks.expect_ok("bidi", client::bidi_lines(client, lines).await) {
        print_lines(&reply.lines("AI："));
        let expected = strings(&["我好!", "在!", "能听懂汉语!", "真的!"]);
        checks.expect_eq("bidi: replies", reply.message, expected);
        let trailer = bidi_hello::Trailer::from_metadata(&reply.trailers);
        checks.expect_eq(
            "bidi: timestamp trailer",
            trailer.is_ok_and(|t| recent(t.timestamp)),
            true,
        );
    }
}

/// The failures the design promises, with their details.
async fn failures(
    config: &ClientConfig,
    client: &mut GreeterClient,
    checks: &mut Checks,
) -> Result<(), server::BoxError> {
    println!("\n== say-hello --name world (again: quota is 1 per name)");
    let outcome = client::say_hello(client, "world").await;
    if let Some(status) = checks.expect_err("second say-hello", outcome, Code::ResourceExhausted) {
        checks.expect_eq(
            "second say-hello: message",
            status.message(),
            server::QUOTA_EXCEEDED_MESSAGE,
        );
        // Read through the error SayHello's contract declares.
        let declared = match say_hello::Error::from_status(&status) {
            say_hello::Error::ResourceExhausted { detail, .. } => Some(detail),
            say_hello::Error::Other(_) => None,
        };
        let subjects: Vec<_> = declared
            .map(|failure| {
                failure
                    .violations
                    .iter()
                    .map(|v| v.subject.clone())
                    .collect()
            })
            .unwrap_or_default();
        checks.expect_eq(
            "second say-hello: QuotaFailure subject",
            subjects,
            strings(&["name:world"]),
        );
    }

    println!("\n== say-hello --token wrong-token");
    let wrong = ClientConfig {
        token: "wrong-token".to_owned(),
        ..config.clone()
    };
    let mut intruder = client::connect(&wrong).await?;
    let outcome = client::say_hello(&mut intruder, "intruder").await;
    checks.expect_err("wrong token", outcome, Code::Unauthenticated);
    let outcome = client::lots_of_replies(&mut intruder, "intruder").await;
    checks.expect_err("wrong token, streaming", outcome, Code::Unauthenticated);

    println!("\n== say-hello --name '' (names are required, at most 100 characters)");
    let outcome = client::say_hello(client, "").await;
    if let Some(status) = checks.expect_err("empty name", outcome, Code::InvalidArgument) {
        let fields: Vec<_> = Details::of(&status)
            .ok()
            .and_then(|details| details.get::<BadRequest>())
            .and_then(Result::ok)
            .map(|bad| bad.field_violations.into_iter().map(|v| v.field).collect())
            .unwrap_or_default();
        checks.expect_eq(
            "empty name: BadRequest field violations",
            fields,
            strings(&["name"]),
        );
    }

    println!(
        "\n== say-hello --name {PANIC_NAME} (the server was started with --panic-on {PANIC_NAME})"
    );
    let outcome = client::say_hello(client, PANIC_NAME).await;
    if let Some(status) = checks.expect_err("panicking handler", outcome, Code::Internal) {
        checks.expect_eq(
            "panicking handler: the panic's text stays on the server",
            status.message(),
            "internal error",
        );
    }
    let outcome = client::say_hello(client, "after-the-panic").await;
    let served = checks.expect_ok("the next call on the same connection", outcome);
    checks.expect_eq(
        "the next call on the same connection: reply",
        served.map(|reply| reply.message),
        Some(text::hello("after-the-panic")),
    );

    println!("\n== say-hello with metadata request-id: abc");
    let mut request = Request::new(HelloRequest {
        name: "metadata".to_owned(),
    });
    // Untyped on purpose: the typed struct cannot hold a malformed value.
    let key = say_hello::RequestMetadata::REQUEST_ID.name();
    request.metadata_mut().insert(key, "abc".parse()?);
    let outcome = client::say_hello_request(client, request).await;
    if let Some(status) = checks.expect_err("request-id: abc", outcome, Code::InvalidArgument) {
        checks.expect_eq(
            "request-id: abc: message names the key and type",
            status.message(),
            "invalid metadata `request-id`: expected int64, got \"abc\" (invalid digit found in string)",
        );
    }
    Ok(())
}

/// gRPC health and reflection, next to the Greeter (they need no token).
async fn services(config: &ClientConfig, checks: &mut Checks) -> Result<(), server::BoxError> {
    let channel = Endpoint::from_shared(config.addr.clone())?
        .connect()
        .await?;

    println!("\n== grpc.health.v1.Health/Check {SERVICE_NAME}");
    let request = HealthCheckRequest {
        service: SERVICE_NAME.to_owned(),
    };
    let outcome = HealthClient::new(channel.clone()).check(request).await;
    if let Some(response) = checks.expect_ok("health check", outcome) {
        let status = response.into_inner().status();
        println!("   status: {}", status.as_str_name());
        checks.expect_eq("health: greeter serving", status, ServingStatus::Serving);
    }

    println!("\n== grpc.reflection.v1.ServerReflection list services");
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut reflection = ServerReflectionClient::new(channel);
    let outcome = match reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
    {
        Ok(response) => response.into_inner().message().await,
        Err(status) => Err(status),
    };
    if let Some(response) = checks.expect_ok("reflection", outcome) {
        let services: Vec<String> = match response.and_then(|r| r.message_response) {
            Some(MessageResponse::ListServicesResponse(list)) => list
                .service
                .into_iter()
                .map(|service| service.name)
                .collect(),
            _ => Vec::new(),
        };
        println!("   services: {}", services.join(", "));
        for expected in [SERVICE_NAME, "grpc.health.v1.Health"] {
            let listed = services.iter().any(|name| name == expected);
            checks.expect_eq(&format!("reflection: lists {expected}"), listed, true);
        }
    }
    Ok(())
}
