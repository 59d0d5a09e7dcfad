//! The interop test cases our client runs, named as in gRPC's
//! `doc/interop-test-descriptions.md`. Each sends what the spec says and checks every assertion
//! the spec lists (and the ones it leaves optional, such as payloads being all zeros), failing
//! with a [`Failure`] that says what differed.

mod cancel;
mod check;
mod metadata;
mod streaming;
mod unary;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub use check::Failure;

use super::client::Clients;

/// How long one case may take before it fails: a server that hangs fails its case instead of
/// blocking the client.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(20);

/// One interop test case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TestCase {
    /// Zero-size messages: `EmptyCall`.
    EmptyUnary,
    /// A 271828-byte request for a 314159-byte response: `UnaryCall`.
    LargeUnary,
    /// Four requests whose payloads add up to 74922 bytes: `StreamingInputCall`.
    ClientStreaming,
    /// Four responses of 31415, 9, 2653 and 58979 bytes: `StreamingOutputCall`.
    ServerStreaming,
    /// Four requests, each answered before the next is sent: `FullDuplexCall`.
    PingPong,
    /// No message either way: `FullDuplexCall`.
    EmptyStream,
    /// Request metadata echoed as a response header and a binary trailer, unary and bidi.
    CustomMetadata,
    /// A requested status code and message come back, unary and bidi.
    StatusCodeAndMessage,
    /// A status message of whitespace and non-ASCII text comes back unchanged.
    SpecialStatusMessage,
    /// `TestService/UnimplementedCall` fails UNIMPLEMENTED.
    UnimplementedMethod,
    /// `UnimplementedService/UnimplementedCall` fails UNIMPLEMENTED.
    UnimplementedService,
    /// A client-streaming call cancelled before any message ends CANCELLED.
    CancelAfterBegin,
    /// A bidi call cancelled after its first response ends CANCELLED.
    CancelAfterFirstResponse,
    /// A bidi call with a 1 ms deadline ends DEADLINE_EXCEEDED.
    TimeoutOnSleepingServer,
}

impl TestCase {
    /// Every case, in the order `--test_case=all` runs them.
    pub const ALL: [TestCase; 14] = [
        TestCase::EmptyUnary,
        TestCase::LargeUnary,
        TestCase::ClientStreaming,
        TestCase::ServerStreaming,
        TestCase::PingPong,
        TestCase::EmptyStream,
        TestCase::CustomMetadata,
        TestCase::StatusCodeAndMessage,
        TestCase::SpecialStatusMessage,
        TestCase::UnimplementedMethod,
        TestCase::UnimplementedService,
        TestCase::CancelAfterBegin,
        TestCase::CancelAfterFirstResponse,
        TestCase::TimeoutOnSleepingServer,
    ];

    /// The case's name in the interop spec and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            TestCase::EmptyUnary => "empty_unary",
            TestCase::LargeUnary => "large_unary",
            TestCase::ClientStreaming => "client_streaming",
            TestCase::ServerStreaming => "server_streaming",
            TestCase::PingPong => "ping_pong",
            TestCase::EmptyStream => "empty_stream",
            TestCase::CustomMetadata => "custom_metadata",
            TestCase::StatusCodeAndMessage => "status_code_and_message",
            TestCase::SpecialStatusMessage => "special_status_message",
            TestCase::UnimplementedMethod => "unimplemented_method",
            TestCase::UnimplementedService => "unimplemented_service",
            TestCase::CancelAfterBegin => "cancel_after_begin",
            TestCase::CancelAfterFirstResponse => "cancel_after_first_response",
            TestCase::TimeoutOnSleepingServer => "timeout_on_sleeping_server",
        }
    }

    /// Runs the case over `clients`, within [`CASE_TIMEOUT`].
    pub async fn run(self, clients: &Clients) -> Result<(), Failure> {
        let mut clients = clients.clone();
        let outcome = tokio::time::timeout(CASE_TIMEOUT, self.run_unbounded(&mut clients)).await;
        outcome.unwrap_or_else(|_| {
            Err(Failure::new(format!(
                "did not finish within {} s",
                CASE_TIMEOUT.as_secs()
            )))
        })
    }

    async fn run_unbounded(self, clients: &mut Clients) -> Result<(), Failure> {
        let test = &mut clients.test;
        match self {
            TestCase::EmptyUnary => unary::empty_unary(test).await,
            TestCase::LargeUnary => unary::large_unary(test).await,
            TestCase::ClientStreaming => streaming::client_streaming(test).await,
            TestCase::ServerStreaming => streaming::server_streaming(test).await,
            TestCase::PingPong => streaming::ping_pong(test).await,
            TestCase::EmptyStream => streaming::empty_stream(test).await,
            TestCase::CustomMetadata => metadata::custom_metadata(test).await,
            TestCase::StatusCodeAndMessage => unary::status_code_and_message(test).await,
            TestCase::SpecialStatusMessage => unary::special_status_message(test).await,
            TestCase::UnimplementedMethod => unary::unimplemented_method(test).await,
            TestCase::UnimplementedService => {
                unary::unimplemented_service(&mut clients.unimplemented).await
            }
            TestCase::CancelAfterBegin => cancel::cancel_after_begin(test).await,
            TestCase::CancelAfterFirstResponse => cancel::cancel_after_first_response(test).await,
            TestCase::TimeoutOnSleepingServer => cancel::timeout_on_sleeping_server(test).await,
        }
    }
}

/// The cases `--test_case` names: one case, or `all` for every case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection(Vec<TestCase>);

impl Selection {
    /// The cases, in the order to run them.
    pub fn cases(&self) -> &[TestCase] {
        &self.0
    }
}

impl FromStr for Selection {
    type Err = UnknownTestCase;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "all" => Ok(Self(TestCase::ALL.to_vec())),
            name => name.parse().map(|case| Self(vec![case])),
        }
    }
}

impl fmt::Display for TestCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TestCase {
    type Err = UnknownTestCase;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        TestCase::ALL
            .into_iter()
            .find(|case| case.name() == name)
            .ok_or_else(|| UnknownTestCase(name.to_owned()))
    }
}

/// A `--test_case` that names no case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTestCase(pub String);

impl fmt::Display for UnknownTestCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = TestCase::ALL.iter().map(|case| case.name()).collect();
        write!(
            f,
            "unknown test case {:?}: expected all or one of {}",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownTestCase {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_is_found_by_its_name_and_all_runs_each_once() {
        for case in TestCase::ALL {
            assert_eq!(case.name().parse::<TestCase>(), Ok(case));
        }
        let all: Selection = "all".parse().unwrap();
        assert_eq!(all.cases(), TestCase::ALL);
        let one: Selection = "ping_pong".parse().unwrap();
        assert_eq!(one.cases(), [TestCase::PingPong]);
        let unknown = "large-unary".parse::<Selection>().unwrap_err().to_string();
        assert!(
            unknown.starts_with(
                "unknown test case \"large-unary\": expected all or one of empty_unary, large_unary,"
            ),
            "{unknown}"
        );
    }
}
