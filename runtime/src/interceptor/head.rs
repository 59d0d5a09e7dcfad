//! The head phase: what an interceptor sees of a call before any message moves.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tonic::Status;
use tonic::metadata::MetadataMap;
use tonic::transport::server::TcpConnectInfo;

use super::InterceptFuture;
use crate::MethodInfo;

/// Which end of a call an interceptor runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// In a server: the call came in.
    Server,
    /// In a client: the call is going out.
    Client,
}

/// The head of a call: the method, the request metadata and extensions, before any message
/// is read (server) or sent (client).
///
/// On the server the head phase runs on the HTTP/2 request head, **before the request body is
/// polled**: a head interceptor that rejects a call answers it without reading its message,
/// however large or slow it is.
#[derive(Debug)]
pub struct Head<'a> {
    method: Option<&'static MethodInfo>,
    path: &'a str,
    side: Side,
    metadata: &'a mut MetadataMap,
    extensions: &'a mut tonic::Extensions,
    secure: Option<bool>,
}

impl<'a> Head<'a> {
    /// A view over one request's head. Generated code, the head layer and tests call this.
    pub fn new(
        side: Side,
        method: Option<&'static MethodInfo>,
        path: &'a str,
        metadata: &'a mut MetadataMap,
        extensions: &'a mut tonic::Extensions,
    ) -> Self {
        Self {
            method,
            path,
            side,
            metadata,
            extensions,
            secure: None,
        }
    }

    /// The head with what is known of the transport's security: `Some(true)` for TLS.
    #[must_use]
    pub fn with_transport_security(mut self, secure: Option<bool>) -> Self {
        self.secure = secure;
        self
    }

    /// On the client, whether the channel is TLS: known when the client was built from an
    /// address (`connect`) or an origin (`with_origin`) with an `https` or `http` scheme,
    /// `None` otherwise. Credentials use it to refuse to leave over plaintext.
    pub fn is_secure(&self) -> Option<bool> {
        self.secure
    }

    /// The method being called. `None` only in the [head layer](crate::interceptor::HeadLayer)
    /// for a path it was not told about (another service, or no service at all).
    pub fn method(&self) -> Option<&'static MethodInfo> {
        self.method
    }

    /// The request's HTTP/2 path, e.g. `/greeter.v1.Greeter/SayHello`.
    pub fn path(&self) -> &str {
        self.path
    }

    /// Whether this runs in a server or a client.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The request metadata (HTTP/2 headers less the reserved ones).
    pub fn metadata(&self) -> &MetadataMap {
        self.metadata
    }

    /// The request metadata, mutable.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        self.metadata
    }

    /// Request extensions: values handed on to later interceptors and to the handler.
    pub fn extensions(&self) -> &tonic::Extensions {
        self.extensions
    }

    /// Request extensions, mutable.
    pub fn extensions_mut(&mut self) -> &mut tonic::Extensions {
        self.extensions
    }

    /// The time the caller allows the call, from its `grpc-timeout` metadata. `Ok(None)` when
    /// it sets none; an error status when the value is malformed.
    pub fn timeout(&self) -> Result<Option<Duration>, Status> {
        timeout_of(
            self.metadata
                .get("grpc-timeout")
                .map(|value| value.as_encoded_bytes()),
        )
    }

    /// When the call must be over: on the server the client's `grpc-timeout` from the arrival
    /// of the call, or an earlier time a head interceptor set; on the client the time a head
    /// interceptor set. The generated server ends the call DEADLINE_EXCEEDED then (dropping the
    /// handler's future and its response stream); the generated client gives up on it then and
    /// sends the time left as `grpc-timeout`.
    pub fn deadline(&self) -> Option<Instant> {
        self.extensions.get::<Deadline>().map(|deadline| deadline.0)
    }

    /// Sets the deadline to `at`, unless the call already has an earlier one.
    pub fn set_deadline(&mut self, at: Instant) {
        Deadline::tighten(self.extensions, at);
    }

    /// On the server, the peer's address when the call arrived over TCP (or TLS over TCP).
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        connect_info(self.extensions).and_then(TcpConnectInfo::remote_addr)
    }

    /// On the server, the local address the call arrived at.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        connect_info(self.extensions).and_then(TcpConnectInfo::local_addr)
    }

    /// On a TLS server, the certificates the client presented (mutual TLS), leaf first.
    #[cfg(feature = "tls")]
    pub fn peer_certs(
        &self,
    ) -> Option<std::sync::Arc<Vec<tonic::transport::CertificateDer<'static>>>> {
        self.extensions
            .get::<tonic::transport::server::TlsConnectInfo<TcpConnectInfo>>()
            .and_then(|info| info.peer_certs())
    }
}

/// When a call must be over, in its request extensions: handlers read it as
/// `request.extensions().get::<Deadline>()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deadline(pub Instant);

impl Deadline {
    /// The time left before the deadline (zero once it has passed).
    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    /// Sets the deadline in `extensions` to `at`, unless it is already earlier.
    pub(crate) fn tighten(extensions: &mut tonic::Extensions, at: Instant) {
        match extensions.get_mut::<Deadline>() {
            Some(deadline) => deadline.0 = deadline.0.min(at),
            None => {
                extensions.insert(Deadline(at));
            }
        }
    }
}

/// Reads a `grpc-timeout` value: `Ok(None)` when there is none.
pub(crate) fn timeout_of(value: Option<&[u8]>) -> Result<Option<Duration>, Status> {
    match value {
        None => Ok(None),
        Some(value) => parse_grpc_timeout(value).map(Some).ok_or_else(|| {
            Status::invalid_argument(format!(
                "malformed grpc-timeout {:?}: want 1 to 8 digits and a unit of H, M, S, m, u or n",
                String::from_utf8_lossy(value)
            ))
        }),
    }
}

/// A `grpc-timeout` value for `timeout`: the most precise unit whose amount fits in 8 digits,
/// rounded up so the peer never gets less time than the caller allowed.
pub(crate) fn encode_grpc_timeout(timeout: Duration) -> String {
    const MAX: u128 = 99_999_999;
    let nanos = timeout.as_nanos();
    for (unit, per) in [
        ('n', 1u128),
        ('u', 1_000),
        ('m', 1_000_000),
        ('S', 1_000_000_000),
        ('M', 60_000_000_000),
        ('H', 3_600_000_000_000),
    ] {
        let amount = nanos.div_ceil(per);
        if amount <= MAX {
            return format!("{amount}{unit}");
        }
    }
    format!("{MAX}H")
}

/// The TCP connection info the transport put in a request's extensions (under TLS too).
pub(crate) fn connect_info(extensions: &tonic::Extensions) -> Option<&TcpConnectInfo> {
    if let Some(info) = extensions.get::<TcpConnectInfo>() {
        return Some(info);
    }
    #[cfg(feature = "tls")]
    if let Some(info) = extensions.get::<tonic::transport::server::TlsConnectInfo<TcpConnectInfo>>()
    {
        return Some(info.get_ref());
    }
    None
}

/// Parses a `grpc-timeout` value: 1 to 8 ASCII digits and a unit (PROTOCOL-HTTP2.md).
fn parse_grpc_timeout(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let amount: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(amount * 3600),
        b'M' => Duration::from_secs(amount * 60),
        b'S' => Duration::from_secs(amount),
        b'm' => Duration::from_millis(amount),
        b'u' => Duration::from_micros(amount),
        b'n' => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// A hook run on the head of every call, before any message moves. On the server it runs
/// before the request body is read; on the client before the request is sent. `Err(status)`
/// ends the call with that status.
///
/// Any `Fn(&mut Head) -> Result<(), Status>` is a (synchronous) head interceptor.
///
/// ```
/// use greeter_runtime::interceptor::{Head, HeadInterceptor, InterceptFuture};
/// use tonic::Status;
///
/// /// Rejects calls that carry no `x-tenant` metadata.
/// struct RequireTenant;
///
/// impl HeadInterceptor for RequireTenant {
///     fn head<'a>(&'a self, head: &'a mut Head<'_>) -> InterceptFuture<'a> {
///         Box::pin(async move {
///             match head.metadata().get("x-tenant") {
///                 Some(_) => Ok(()),
///                 None => Err(Status::invalid_argument("x-tenant metadata is required")),
///             }
///         })
///     }
/// }
/// ```
pub trait HeadInterceptor: Send + Sync + 'static {
    /// Inspects or edits the head; `Err(status)` ends the call.
    fn head<'a>(&'a self, head: &'a mut Head<'_>) -> InterceptFuture<'a>;
}

impl<F> HeadInterceptor for F
where
    F: Fn(&mut Head<'_>) -> Result<(), Status> + Send + Sync + 'static,
{
    fn head<'a>(&'a self, head: &'a mut Head<'_>) -> InterceptFuture<'a> {
        super::ready(self(head))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_units() {
        let cases: &[(&str, Option<Duration>)] = &[
            ("1H", Some(Duration::from_secs(3600))),
            ("2M", Some(Duration::from_secs(120))),
            ("30S", Some(Duration::from_secs(30))),
            ("250m", Some(Duration::from_millis(250))),
            ("99999999u", Some(Duration::from_micros(99_999_999))),
            ("7n", Some(Duration::from_nanos(7))),
            ("123456789S", None),
            ("S", None),
            ("10", None),
            ("1x", None),
            ("-1S", None),
            ("", None),
        ];
        for (value, want) in cases {
            assert_eq!(parse_grpc_timeout(value.as_bytes()), *want, "{value:?}");
        }
    }

    #[test]
    fn grpc_timeout_encoding_round_trips_and_never_shortens() {
        for timeout in [
            Duration::from_nanos(1),
            Duration::from_millis(250),
            Duration::from_millis(100_000),
            Duration::from_secs(3 * 3600),
            Duration::from_nanos(123_456_789_123),
            Duration::from_secs(u64::MAX / 4),
        ] {
            let encoded = encode_grpc_timeout(timeout);
            let decoded = parse_grpc_timeout(encoded.as_bytes()).unwrap();
            assert!(
                decoded >= timeout.min(Duration::from_secs(99_999_999 * 3600)),
                "{timeout:?} as {encoded}"
            );
        }
        assert_eq!(encode_grpc_timeout(Duration::from_millis(250)), "250000u");
        assert_eq!(encode_grpc_timeout(Duration::from_secs(200)), "200000m");
    }

    #[test]
    fn deadlines_only_tighten() {
        let now = Instant::now();
        let mut extensions = tonic::Extensions::new();
        let mut metadata = MetadataMap::new();
        let mut head = Head::new(Side::Client, None, "/x/Y", &mut metadata, &mut extensions);
        assert_eq!(head.deadline(), None);
        head.set_deadline(now + Duration::from_secs(5));
        head.set_deadline(now + Duration::from_secs(9));
        assert_eq!(head.deadline(), Some(now + Duration::from_secs(5)));
        head.set_deadline(now + Duration::from_secs(1));
        assert_eq!(head.deadline(), Some(now + Duration::from_secs(1)));
    }

    #[test]
    fn head_reads_the_timeout_and_rejects_a_bad_one() {
        let mut metadata = MetadataMap::new();
        let mut extensions = tonic::Extensions::new();
        metadata.insert("grpc-timeout", "5S".parse().unwrap());
        let head = Head::new(Side::Server, None, "/x/Y", &mut metadata, &mut extensions);
        assert_eq!(head.timeout().unwrap(), Some(Duration::from_secs(5)));
        assert_eq!(head.remote_addr(), None);
        metadata.insert("grpc-timeout", "soon".parse().unwrap());
        let head = Head::new(Side::Server, None, "/x/Y", &mut metadata, &mut extensions);
        let status = head.timeout().unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().contains("soon"), "{}", status.message());
    }
}
