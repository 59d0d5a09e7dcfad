//! The interceptor model: hooks that generated servers and clients run on every call, in two
//! phases, the same on both sides.
//!
//! - **Head** ([`HeadInterceptor`]): sees the method, the request metadata and extensions, the
//!   deadline and (server) the peer, before any message moves. On the server it runs on the
//!   HTTP/2 request head, before the request body is read, so a rejection costs no body. The
//!   head chain is also a tower [`HeadLayer`] for a whole router.
//! - **Call** ([`CallInterceptor`]): around-style, once per call, with messages type-erased as
//!   [`AnyMessage`]: the request before `next` and the response or status after it (unary), each
//!   received and sent message (every kind), and the final status.
//!
//! **Order.** One rule on both sides: the first interceptor added is the outermost. It is the
//! first to see the request head, the request and each received message, and the last to see
//! the response, each sent message and the end of the call. All head interceptors run before
//! any call interceptor. **Selection**: [`only`], [`except`] and [`when`] run an interceptor on
//! some methods only.
//!
//! With no interceptor installed a generated server or client takes the plain tonic path: no
//! allocation, boxing or extra layer per call.
//!
//! Response trailers on success, which tonic alone cannot send, come from interceptors through
//! [`CallContext::trailers`] and from handlers through
//! [`ResponseTrailers`](crate::metadata::ResponseTrailers).

mod call;
mod chain;
mod head;
mod layer;
mod message;
mod select;

use std::future::Future;
use std::pin::Pin;

use tonic::Status;

pub(crate) use call::{Access, Exchange, PayloadAccess, Payloads, Replay, replay};
pub use call::{Call, CallContext, CallInterceptor, Next};
pub use chain::Interceptors;
pub(crate) use chain::{Hooks, run_head};
pub use head::{Deadline, Head, HeadInterceptor, Side};
pub(crate) use head::{connect_info, encode_grpc_timeout, timeout_of};
pub(crate) use layer::HeadDone;
pub use layer::{HeadLayer, HeadService};
pub use message::AnyMessage;
pub use select::{Selected, except, only, when};

/// The future an interceptor returns: `Ok(())` lets the call go on, `Err` ends it.
pub type InterceptFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Status>> + Send + 'a>>;

/// The future of an interceptor that decided without waiting. `Ok(())` allocates nothing (the
/// common case of a check that passes, once per call); `Err` boxes its status.
///
/// ```
/// use greeter_runtime::interceptor::{Head, InterceptFuture, ready};
///
/// fn needs_client_os<'a>(head: &'a mut Head<'_>) -> InterceptFuture<'a> {
///     ready(match head.metadata().contains_key("client-os") {
///         true => Ok(()),
///         false => Err(tonic::Status::invalid_argument("client-os is required")),
///     })
/// }
/// ```
pub fn ready<'a>(verdict: Result<(), Status>) -> InterceptFuture<'a> {
    match verdict {
        Ok(()) => Box::pin(Passed),
        Err(status) => Box::pin(std::future::ready(Err(status))),
    }
}

/// A verdict of `Ok(())`, ready at once: zero-sized, so boxing it allocates nothing.
struct Passed;

impl Future for Passed {
    type Output = Result<(), Status>;

    fn poll(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_ready_verdict_resolves_to_itself_and_a_pass_is_zero_sized() {
        assert!(ready(Ok(())).await.is_ok());
        let refused = ready(Err(Status::permission_denied("no")))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
        assert_eq!(refused.message(), "no");
        // A box of a zero-sized value does not allocate.
        assert_eq!(size_of::<Passed>(), 0);
    }
}
