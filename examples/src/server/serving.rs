//! The transport settings a production gRPC server sets: how many streams a connection may have
//! open, how large a message may be, and how dead peers are found. tonic's `Server::builder()`
//! leaves most of these unbounded or off; [`Serving::default`] picks bounded values close to what
//! grpc-go users meet.

use std::time::Duration;

use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

/// Default HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`: RFC 9113 asks servers not to go below 100,
/// and 100 is what nginx (128), Go's `net/http2` (250) and most proxies stay near. tonic's
/// default is unlimited.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 100;
/// Default limit of one message received or sent: 4 MiB, gRPC's default receive limit in every
/// implementation (so a reply the server may send is one any default client accepts).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;
/// Default interval of the server's HTTP/2 keepalive PINGs (counted from the last frame read).
pub const DEFAULT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(60);
/// Default time a PING may go unanswered before the connection is closed (grpc-go's 20 s).
pub const DEFAULT_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// Default idle time before the kernel starts TCP keepalive probes.
pub const DEFAULT_TCP_KEEPALIVE: Duration = Duration::from_secs(60);
/// How long a client may take over its TLS handshake (not configurable: no client needs more).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Per-connection limits and keepalives of the server. [`Default`] gives the documented defaults
/// of `greeter-server`.
///
/// Left out on purpose: tonic's `concurrency_limit_per_connection` (it counts response futures,
/// which for a stream end at its headers, so it bounds less than the stream limit and queues
/// instead of refusing) and `Server::timeout` (it stops at a stream's headers too; the
/// [`max_call_duration`](Self::max_call_duration) deadline covers whole streams).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serving {
    /// Streams (calls) one HTTP/2 connection may have open at once, advertised in the server's
    /// SETTINGS; clients queue calls beyond it. At least 1.
    pub max_concurrent_streams: u32,
    /// Largest request message accepted; a larger one fails the call (the server keeps serving).
    pub max_receive_message_size: usize,
    /// Largest response message sent; a larger one fails the call instead of reaching a client
    /// that would refuse it.
    pub max_send_message_size: usize,
    /// Interval of HTTP/2 keepalive PINGs on every connection, idle or not; `None` sends none.
    pub keepalive_interval: Option<Duration>,
    /// How long a keepalive PING may go unanswered before the connection is closed. More than 0.
    pub keepalive_timeout: Duration,
    /// Idle time before TCP keepalive probes; `None` leaves them off. Catches peers gone dead
    /// where HTTP/2 is not spoken yet (a TLS handshake), and keeps NAT entries alive.
    pub tcp_keepalive: Option<Duration>,
    /// Longest a Greeter call may run, streams included (DEADLINE_EXCEEDED after it, as if the
    /// client had asked for it); `None` lets a call run as long as its client's deadline. Off by
    /// default: a `BidiHello` chat lasts as long as the person typing.
    pub max_call_duration: Option<Duration>,
}

impl Default for Serving {
    fn default() -> Self {
        Self {
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
            max_receive_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_send_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            keepalive_interval: Some(DEFAULT_KEEPALIVE_INTERVAL),
            keepalive_timeout: DEFAULT_KEEPALIVE_TIMEOUT,
            tcp_keepalive: Some(DEFAULT_TCP_KEEPALIVE),
            max_call_duration: None,
        }
    }
}

impl Serving {
    /// Refuses settings that cannot work: no streams at all, or a keepalive that closes every
    /// connection at once.
    pub fn check(&self) -> Result<(), String> {
        if self.max_concurrent_streams == 0 {
            return Err("the stream limit per connection must be at least 1".to_owned());
        }
        if self.keepalive_interval.is_some() && self.keepalive_timeout.is_zero() {
            return Err("the keepalive timeout must be more than 0".to_owned());
        }
        if self
            .keepalive_interval
            .is_some_and(|interval| interval.is_zero())
        {
            return Err(
                "the keepalive interval must be more than 0 (None turns it off)".to_owned(),
            );
        }
        Ok(())
    }

    /// A tonic server builder with the HTTP/2 settings applied.
    pub(super) fn builder(&self) -> Server {
        Server::builder()
            .max_concurrent_streams(self.max_concurrent_streams)
            .http2_keepalive_interval(self.keepalive_interval)
            .http2_keepalive_timeout(Some(self.keepalive_timeout))
    }

    /// The connections of `listener`, with the TCP settings applied. (tonic applies its own
    /// TCP settings only to listeners it binds itself.)
    pub(super) fn incoming(&self, listener: TcpListener) -> TcpIncoming {
        TcpIncoming::from(listener)
            .with_nodelay(Some(true))
            .with_keepalive(self.tcp_keepalive)
    }
}
