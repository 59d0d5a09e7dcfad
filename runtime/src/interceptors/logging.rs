use std::fmt;

use tonic::metadata::{KeyAndValueRef, MetadataMap};
use tonic::{Code, Status};
use tracing::field::{Empty, debug, display};
use tracing::{Instrument, Level, Span};

use crate::interceptor::{
    AnyMessage, Call, CallContext, CallInterceptor, InterceptFuture, Next, Side,
};

/// Request metadata keys whose values are logged by default: fixed by the protocol, never secret.
const PROTOCOL_KEYS: [&str; 6] = [
    "content-type",
    "grpc-accept-encoding",
    "grpc-encoding",
    "grpc-timeout",
    "te",
    "user-agent",
];

/// The longest metadata value or status message logged; the rest is cut, with a note.
const MAX_LOGGED_TEXT: usize = 256;

/// The level of the events that log payloads.
const PAYLOAD_LEVEL: Level = Level::DEBUG;

/// The number of gRPC status codes: `Code` as `i32` runs from 0 to 16.
const CODES: usize = 17;

/// `tracing`'s macros want a constant level: `$make!(Level::…)` for the one `$level` holds.
macro_rules! at_level {
    ($level:expr, $make:ident) => {
        match $level {
            Level::ERROR => $make!(Level::ERROR),
            Level::WARN => $make!(Level::WARN),
            Level::INFO => $make!(Level::INFO),
            Level::DEBUG => $make!(Level::DEBUG),
            _ => $make!(Level::TRACE),
        }
    };
}

/// Logs every call with `tracing`, on a server or a client (the same interceptor serves both).
///
/// - **One span per call**, `grpc.call`, with `rpc.system`, `rpc.service`, `rpc.method`,
///   `grpc.kind`, `side`, `peer` (on the server, the client's address) and
///   `grpc.request.metadata`. The rest of the call runs inside it, so the handler's own logs
///   (and those of the interceptors added after this one) nest in it. Its level is
///   [`span_level`](Self::span_level), INFO by default.
/// - **One `finished call` event per call**, when it ends (for a response stream: when the
///   stream does), with `grpc.code`, `grpc.message` (on error), `duration_ms`,
///   `messages.received` and `messages.sent`, at the level its outcome maps to
///   ([`level`](Self::level); the defaults are those of go-grpc-middleware). The same values
///   are recorded on the span. A call a server refuses on its head (authentication, metadata
///   checks, a malformed `grpc-timeout`) is logged too. When the span itself is filtered out,
///   the event carries the service, method, side and peer instead.
/// - **Request metadata, redacted**: every key is logged, but its value only when the key is
///   allowed ([`allow_metadata`](Self::allow_metadata); a few protocol keys such as
///   `user-agent` and `grpc-timeout` always are), cut at 256 bytes; any other value reads
///   `[redacted]`. `authorization`, `proxy-authorization`, `cookie`, `set-cookie` and every
///   binary (`-bin`) key are redacted even when allowed.
/// - **Payloads, if asked for** ([`payloads`](Self::payloads)): each message received and sent
///   as a DEBUG event, its `Debug` text cut at a size limit.
///
/// Add it first to a chain, so that its span and its duration cover the other interceptors.
/// With its levels filtered out it costs a few level checks and uncontended locks per call
/// (and does not wrap the call: [`CallInterceptor::wraps`]), and nothing per message.
///
/// ```
/// use greeter_runtime::Interceptors;
/// use greeter_runtime::interceptor::Side;
/// use greeter_runtime::interceptors::Logging;
/// use tonic::Code;
/// use tracing::Level;
///
/// let logging = Logging::new()
///     .allow_metadata(["client-os", "request-id"])
///     .payloads(512)
///     .level(Code::NotFound, Level::DEBUG);
/// assert_eq!(logging.level_of(Side::Server, Code::NotFound), Level::DEBUG);
/// assert_eq!(logging.level_of(Side::Server, Code::Internal), Level::ERROR);
/// assert_eq!(logging.level_of(Side::Client, Code::Ok), Level::DEBUG);
///
/// let server = Interceptors::new().with_call(logging.clone());
/// let client = Interceptors::new().with_call(logging);
/// # let _ = (server, client);
/// ```
#[derive(Debug, Clone)]
pub struct Logging {
    /// Lowercase metadata keys whose values are logged.
    allowed: Vec<String>,
    request_metadata: bool,
    payload_limit: Option<usize>,
    span_level: Level,
    /// The level of the final event, by side (server, client) and by code.
    levels: [[Level; CODES]; 2],
}

impl Default for Logging {
    fn default() -> Self {
        Self::new()
    }
}

impl Logging {
    /// Logs calls with the default levels, the request metadata redacted but for the protocol
    /// keys, and no payloads.
    pub fn new() -> Self {
        let codes = |default: fn(Code) -> Level| {
            std::array::from_fn(|index| default(Code::from_i32(index as i32)))
        };
        Self {
            allowed: PROTOCOL_KEYS.iter().map(|&key| key.to_owned()).collect(),
            request_metadata: true,
            payload_limit: None,
            span_level: Level::INFO,
            levels: [codes(default_server_level), codes(default_client_level)],
        }
    }

    /// Also logs the values of these request metadata keys (any case). Values of
    /// `authorization`, `proxy-authorization`, `cookie`, `set-cookie` and `-bin` keys stay
    /// redacted all the same.
    #[must_use]
    pub fn allow_metadata<I>(mut self, keys: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.allowed.extend(
            keys.into_iter()
                .map(|key| key.as_ref().to_ascii_lowercase()),
        );
        self
    }

    /// Whether to log the request metadata at all (on by default, redacted).
    #[must_use]
    pub fn request_metadata(mut self, log: bool) -> Self {
        self.request_metadata = log;
        self
    }

    /// Logs every message the call receives and sends, at DEBUG, as its `Debug` text cut after
    /// `max_bytes` bytes (the event also gives the message's type and encoded size). Off by
    /// default: payloads may hold personal data.
    #[must_use]
    pub fn payloads(mut self, max_bytes: usize) -> Self {
        self.payload_limit = Some(max_bytes);
        self
    }

    /// The level of the call's span (INFO by default).
    #[must_use]
    pub fn span_level(mut self, level: Level) -> Self {
        self.span_level = level;
        self
    }

    /// Logs the end of calls that end with `code` at `level`, on both sides.
    #[must_use]
    pub fn level(self, code: Code, level: Level) -> Self {
        self.level_on(Side::Server, code, level)
            .level_on(Side::Client, code, level)
    }

    /// Logs the end of calls that end with `code` at `level`, on `side` only.
    #[must_use]
    pub fn level_on(mut self, side: Side, code: Code, level: Level) -> Self {
        self.levels[side_index(side)][code_index(code)] = level;
        self
    }

    /// The level at which the end of a call on `side` that ended with `code` is logged.
    ///
    /// By default, as go-grpc-middleware logs: on a server OK, CANCELLED, INVALID_ARGUMENT,
    /// NOT_FOUND, ALREADY_EXISTS and UNAUTHENTICATED at INFO; UNKNOWN, UNIMPLEMENTED, INTERNAL
    /// and DATA_LOSS at ERROR; any other code at WARN. On a client UNKNOWN, DEADLINE_EXCEEDED,
    /// PERMISSION_DENIED and UNAUTHENTICATED at INFO; UNIMPLEMENTED, INTERNAL, UNAVAILABLE and
    /// DATA_LOSS at WARN; any other code (OK included) at DEBUG.
    pub fn level_of(&self, side: Side, code: Code) -> Level {
        self.levels[side_index(side)][code_index(code)]
    }

    /// The call's span: the one this interceptor keeps in the call's extensions, or a new one
    /// (kept there unless it is disabled). After the end of the call, none.
    fn span(&self, context: &CallContext) -> Span {
        let mut extensions = context.extensions();
        if let Some(CallSpan(span)) = extensions.get::<CallSpan>() {
            return span.clone().unwrap_or_else(Span::none);
        }
        // Made under the lock: a server's send and receive hooks may race for it.
        let span = self.new_span(context);
        if !span.is_disabled() {
            extensions.insert(CallSpan(Some(span.clone())));
        }
        span
    }

    /// The call's span, taken from the call's extensions as the call ends; a new one for a
    /// call that ends before any other hook ran (refused on its head).
    fn end_span(&self, context: &CallContext) -> Span {
        let mut extensions = context.extensions();
        match extensions.get_mut::<CallSpan>() {
            Some(CallSpan(span)) => span.take().unwrap_or_else(Span::none),
            None => self.new_span(context),
        }
    }

    fn new_span(&self, context: &CallContext) -> Span {
        let method = context.method();
        macro_rules! span {
            ($level:expr) => {
                tracing::span!(
                    $level,
                    "grpc.call",
                    rpc.system = "grpc",
                    rpc.service = method.service(),
                    rpc.method = method.method(),
                    grpc.kind = method.kind().as_str(),
                    side = side_name(context.side()),
                    peer = context.peer().map(display),
                    grpc.request.metadata = Empty,
                    grpc.code = Empty,
                    duration_ms = Empty,
                    messages.received = Empty,
                    messages.sent = Empty,
                )
            };
        }
        at_level!(self.span_level, span)
    }

    /// Logs one message of the call, if payloads are logged.
    fn log_payload(&self, context: &CallContext, direction: &str, message: &AnyMessage<'_>) {
        let Some(limit) = self.payload_limit else {
            return;
        };
        if !tracing::enabled!(PAYLOAD_LEVEL) {
            return;
        }
        let span = self.span(context);
        let (kind, size) = (message.full_name(), message.encoded_len());
        let payload = display(Truncated(message, limit));
        match span.is_disabled() {
            true => tracing::event!(
                PAYLOAD_LEVEL,
                rpc.method = context.method().path(),
                grpc.message.type = kind,
                grpc.message.size = size,
                grpc.payload = payload,
                "{direction} message"
            ),
            false => tracing::event!(
                parent: &span,
                PAYLOAD_LEVEL,
                grpc.message.type = kind,
                grpc.message.size = size,
                grpc.payload = payload,
                "{direction} message"
            ),
        }
    }
}

impl CallInterceptor for Logging {
    /// Only when the call's span is enabled: with it disabled `call` has nothing to record or
    /// instrument. The span made here is kept in the call's extensions for `call` to find.
    fn wraps(&self, context: &CallContext) -> bool {
        !self.span(context).is_disabled()
    }

    fn call<'a>(&'a self, call: &'a mut Call<'_>, next: Next<'a>) -> InterceptFuture<'a> {
        let span = self.span(call.context());
        if self.request_metadata
            && !span.is_disabled()
            && let Some(metadata) = call.metadata_mut()
        {
            let redacted = Redacted {
                metadata,
                allowed: &self.allowed,
            };
            span.record("grpc.request.metadata", display(redacted));
        }
        match span.is_disabled() {
            true => next.forward(call),
            false => Box::pin(next.run(call).instrument(span)),
        }
    }

    fn on_receive(
        &self,
        context: &CallContext,
        message: &mut AnyMessage<'_>,
    ) -> Result<(), Status> {
        self.log_payload(context, "received", message);
        Ok(())
    }

    fn on_send(&self, context: &CallContext, message: &mut AnyMessage<'_>) -> Result<(), Status> {
        self.log_payload(context, "sent", message);
        Ok(())
    }

    fn on_end(&self, context: &CallContext, status: &Status) {
        let span = self.end_span(context);
        let code = status.code();
        let level = self.level_of(context.side(), code);
        let duration_ms = context.elapsed().as_micros() as f64 / 1000.0;
        let (received, sent) = (context.messages_received(), context.messages_sent());
        let message = (code != Code::Ok).then(|| debug(Capped(status.message())));
        if span.is_disabled() {
            let method = context.method();
            macro_rules! finished {
                ($level:expr) => {
                    tracing::event!(
                        $level,
                        rpc.system = "grpc",
                        rpc.service = method.service(),
                        rpc.method = method.method(),
                        grpc.kind = method.kind().as_str(),
                        side = side_name(context.side()),
                        peer = context.peer().map(display),
                        grpc.code = ?code,
                        grpc.message = message,
                        duration_ms,
                        messages.received = received,
                        messages.sent = sent,
                        "finished call"
                    )
                };
            }
            at_level!(level, finished);
            return;
        }
        macro_rules! finished {
            ($level:expr) => {
                tracing::event!(
                    parent: &span,
                    $level,
                    grpc.code = ?code,
                    grpc.message = message,
                    duration_ms,
                    messages.received = received,
                    messages.sent = sent,
                    "finished call"
                )
            };
        }
        at_level!(level, finished);
        // On the span too, for exporters of spans (after the event: a text log shows it once).
        span.record("grpc.code", debug(code));
        span.record("duration_ms", duration_ms);
        span.record("messages.received", received);
        span.record("messages.sent", sent);
    }
}

/// The span of a call in its extensions; `None` once the call has ended.
#[derive(Clone)]
struct CallSpan(Option<Span>);

fn side_index(side: Side) -> usize {
    match side {
        Side::Server => 0,
        Side::Client => 1,
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Server => "server",
        Side::Client => "client",
    }
}

fn code_index(code: Code) -> usize {
    usize::try_from(i32::from(code))
        .ok()
        .filter(|&index| index < CODES)
        .unwrap_or(Code::Unknown as usize)
}

/// go-grpc-middleware's `DefaultServerCodeToLevel`.
fn default_server_level(code: Code) -> Level {
    match code {
        Code::Ok
        | Code::Cancelled
        | Code::InvalidArgument
        | Code::NotFound
        | Code::AlreadyExists
        | Code::Unauthenticated => Level::INFO,
        Code::Unknown | Code::Unimplemented | Code::Internal | Code::DataLoss => Level::ERROR,
        Code::DeadlineExceeded
        | Code::PermissionDenied
        | Code::ResourceExhausted
        | Code::FailedPrecondition
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable => Level::WARN,
    }
}

/// go-grpc-middleware's `DefaultClientCodeToLevel`.
fn default_client_level(code: Code) -> Level {
    match code {
        Code::Unknown | Code::DeadlineExceeded | Code::PermissionDenied | Code::Unauthenticated => {
            Level::INFO
        }
        Code::Unimplemented | Code::Internal | Code::Unavailable | Code::DataLoss => Level::WARN,
        Code::Ok
        | Code::Cancelled
        | Code::InvalidArgument
        | Code::NotFound
        | Code::AlreadyExists
        | Code::ResourceExhausted
        | Code::FailedPrecondition
        | Code::Aborted
        | Code::OutOfRange => Level::DEBUG,
    }
}

/// Whether a metadata key's value is never logged, allowed or not.
fn always_redacted(key: &str) -> bool {
    key.ends_with("-bin")
        || matches!(
            key,
            "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
        )
}

/// Request metadata as logged: `{key: "value", other: [redacted]}`.
struct Redacted<'a> {
    metadata: &'a MetadataMap,
    allowed: &'a [String],
}

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (index, entry) in self.metadata.iter().enumerate() {
            let separator = if index == 0 { "" } else { ", " };
            let (key, value) = match entry {
                KeyAndValueRef::Ascii(key, value) => (key.as_str(), Some(value)),
                KeyAndValueRef::Binary(key, _) => (key.as_str(), None),
            };
            write!(f, "{separator}{key}: ")?;
            let shown = value.filter(|_| {
                !always_redacted(key) && self.allowed.iter().any(|allowed| allowed == key)
            });
            match shown.map(|value| value.to_str()) {
                None => f.write_str("[redacted]")?,
                Some(Ok(text)) => write!(f, "{:?}", Capped(text))?,
                Some(Err(_)) => f.write_str("[not visible ASCII]")?,
            }
        }
        f.write_str("}")
    }
}

/// A text from a peer, quoted, its first [`MAX_LOGGED_TEXT`] bytes only.
struct Capped<'a>(&'a str);

impl fmt::Debug for Capped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = prefix(self.0, MAX_LOGGED_TEXT);
        write!(f, "{shown:?}")?;
        match self.0.len() - shown.len() {
            0 => Ok(()),
            cut => write!(f, "…[{cut} more bytes]"),
        }
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A value's `Debug` text, its first `.1` bytes only. Formatting stops there, so a huge
/// message costs no more than a small one.
struct Truncated<'a, T: ?Sized>(&'a T, usize);

impl<T: fmt::Debug + ?Sized> fmt::Display for Truncated<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut capped = CappedWriter {
            out: f,
            left: self.1,
            full: false,
        };
        match fmt::write(&mut capped, format_args!("{:?}", self.0)) {
            Err(_) if capped.full => write!(capped.out, "…[truncated at {} bytes]", self.1),
            written => written,
        }
    }
}

/// Writes through to a formatter until `left` bytes are spent, then fails (`full`).
struct CappedWriter<'a, 'f> {
    out: &'a mut fmt::Formatter<'f>,
    left: usize,
    full: bool,
}

impl fmt::Write for CappedWriter<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if text.len() <= self.left {
            self.left -= text.len();
            return self.out.write_str(text);
        }
        self.out.write_str(prefix(text, self.left))?;
        self.left = 0;
        self.full = true;
        Err(fmt::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(pairs: &[(&'static str, &str)]) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        for (key, value) in pairs {
            match key.ends_with("-bin") {
                true => {
                    let value = tonic::metadata::MetadataValue::from_bytes(value.as_bytes());
                    metadata.insert_bin(*key, value);
                }
                false => {
                    metadata.insert(*key, value.parse().unwrap());
                }
            }
        }
        metadata
    }

    fn redacted(logging: &Logging, metadata: &MetadataMap) -> String {
        let allowed = &logging.allowed;
        Redacted { metadata, allowed }.to_string()
    }

    #[test]
    fn only_allowed_values_are_logged_and_secrets_never() {
        let logging =
            Logging::new().allow_metadata(["Client-OS", "authorization", "cookie", "trace-bin"]);
        let metadata = metadata(&[
            ("client-os", "plan9"),
            ("authorization", "Bearer hunter2"),
            ("cookie", "session=hunter3"),
            ("proxy-authorization", "Basic hunter4"),
            ("trace-bin", "hunter5"),
            ("request-id", "r-17"),
            ("grpc-timeout", "5S"),
        ]);
        let logged = redacted(&logging, &metadata);
        for shown in [r#"client-os: "plan9""#, r#"grpc-timeout: "5S""#] {
            assert!(logged.contains(shown), "{shown} in {logged}");
        }
        for hidden in [
            "authorization",
            "cookie",
            "proxy-authorization",
            "trace-bin",
            "request-id",
        ] {
            assert!(
                logged.contains(&format!("{hidden}: [redacted]")),
                "{hidden} in {logged}"
            );
        }
        assert!(!logged.contains("hunter"), "{logged}");
        assert!(!logged.contains("r-17"), "{logged}");
        let default = redacted(&Logging::new(), &metadata);
        assert!(default.contains("client-os: [redacted]"), "{default}");
    }

    #[test]
    fn long_and_opaque_values_are_cut_or_withheld() {
        let logging = Logging::new().allow_metadata(["big", "opaque"]);
        let mut metadata = metadata(&[("big", &"v".repeat(300))]);
        let opaque = tonic::metadata::MetadataValue::try_from(&b"caf\xc3\xa9"[..]).unwrap();
        metadata.insert("opaque", opaque);
        let logged = redacted(&logging, &metadata);
        let shown = format!("big: \"{}\"…[44 more bytes]", "v".repeat(256));
        assert!(logged.contains(&shown), "{logged}");
        assert!(logged.contains("opaque: [not visible ASCII]"), "{logged}");
        assert_eq!(redacted(&logging, &MetadataMap::new()), "{}");
    }

    #[test]
    fn debug_text_is_cut_at_the_limit_on_a_character_boundary() {
        #[derive(Debug)]
        #[allow(dead_code)] // Read through `Debug` only.
        struct Greeting {
            name: String,
        }
        let greeting = Greeting {
            name: "é".repeat(40),
        };
        let full = format!("{greeting:?}");
        assert_eq!(Truncated(&greeting, 1000).to_string(), full);
        assert_eq!(Truncated(&greeting, full.len()).to_string(), full);
        let cut = Truncated(&greeting, 24).to_string();
        // `Greeting { name: "` is 18 bytes, then three 2-byte `é`: 24 bytes.
        assert_eq!(
            cut,
            format!("Greeting {{ name: \"ééé…[truncated at 24 bytes]")
        );
        let odd = Truncated(&greeting, 25).to_string();
        assert_eq!(
            odd,
            format!("Greeting {{ name: \"ééé…[truncated at 25 bytes]")
        );
        assert_eq!(
            Truncated(&greeting, 0).to_string(),
            "…[truncated at 0 bytes]"
        );
    }

    #[test]
    fn capped_status_messages_are_quoted_and_cut() {
        assert_eq!(format!("{:?}", Capped("a \"b\"\n")), r#""a \"b\"\n""#);
        let long = "x".repeat(MAX_LOGGED_TEXT + 9);
        let logged = format!("{:?}", Capped(&long));
        assert!(logged.ends_with("\"…[9 more bytes]"), "{logged}");
        assert_eq!(logged.matches('x').count(), MAX_LOGGED_TEXT);
    }

    #[test]
    fn levels_follow_go_grpc_middleware_and_can_be_changed() {
        let logging = Logging::new();
        let cases = [
            (Code::Ok, Level::INFO, Level::DEBUG),
            (Code::NotFound, Level::INFO, Level::DEBUG),
            (Code::Unauthenticated, Level::INFO, Level::INFO),
            (Code::DeadlineExceeded, Level::WARN, Level::INFO),
            (Code::Unavailable, Level::WARN, Level::WARN),
            (Code::Aborted, Level::WARN, Level::DEBUG),
            (Code::Unknown, Level::ERROR, Level::INFO),
            (Code::Internal, Level::ERROR, Level::WARN),
            (Code::DataLoss, Level::ERROR, Level::WARN),
        ];
        for (code, server, client) in cases {
            assert_eq!(logging.level_of(Side::Server, code), server, "{code:?}");
            assert_eq!(logging.level_of(Side::Client, code), client, "{code:?}");
        }
        let changed = logging.level(Code::NotFound, Level::TRACE).level_on(
            Side::Client,
            Code::Internal,
            Level::ERROR,
        );
        assert_eq!(changed.level_of(Side::Server, Code::NotFound), Level::TRACE);
        assert_eq!(changed.level_of(Side::Client, Code::NotFound), Level::TRACE);
        assert_eq!(changed.level_of(Side::Client, Code::Internal), Level::ERROR);
        assert_eq!(changed.level_of(Side::Server, Code::Internal), Level::ERROR);
        assert_eq!(changed.level_of(Side::Server, Code::Aborted), Level::WARN);
        for index in 0..CODES {
            let code = Code::from_i32(index as i32);
            assert_eq!(code_index(code), index, "{code:?}");
        }
    }
}
