//! The interceptor model: hooks that generated servers and clients run around every call.
//!
//! A [`ServerInterceptor`] runs after the request head (and, for unary and server-streaming
//! calls, the request message) has arrived and before the handler; a [`ClientInterceptor`] runs
//! before the request leaves the client. Both are async and see which method is being called
//! through its [`MethodInfo`](crate::MethodInfo), so one interceptor can treat methods
//! differently. Returning `Err(status)` ends the call with that status; the handler (or the
//! network) never sees it.
//!
//! Interceptors are installed on the generated `…Server` / `…Client` types and run in the order
//! they were added. With none installed the call path is the plain tonic one: no allocation, no
//! dynamic dispatch.

mod call;
mod chain;

use std::future::Future;
use std::pin::Pin;

use tonic::Status;

pub use call::{Call, ClientCall, ServerCall};
pub use chain::{ClientInterceptors, Interceptors, ServerInterceptors};

/// The future an interceptor returns: `Ok(())` lets the call go on, `Err` ends it.
pub type InterceptFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Status>> + Send + 'a>>;

/// A hook run on the server before the handler of every call of the service it is installed on.
///
/// ```
/// use greeter_runtime::{InterceptFuture, ServerCall, ServerInterceptor};
/// use tonic::Status;
///
/// /// Rejects calls that carry no `x-tenant` metadata.
/// struct RequireTenant;
///
/// impl ServerInterceptor for RequireTenant {
///     fn intercept<'a>(&'a self, call: &'a mut ServerCall<'_>) -> InterceptFuture<'a> {
///         Box::pin(async move {
///             match call.metadata().get("x-tenant") {
///                 Some(_) => Ok(()),
///                 None => Err(Status::invalid_argument("x-tenant metadata is required")),
///             }
///         })
///     }
/// }
/// ```
pub trait ServerInterceptor: Send + Sync + 'static {
    /// Inspects or edits the call; `Err(status)` ends the call before the handler runs.
    fn intercept<'a>(&'a self, call: &'a mut ServerCall<'_>) -> InterceptFuture<'a>;
}

/// Any `Fn(&mut ServerCall) -> Result<(), Status>` is a (synchronous) server interceptor.
impl<F> ServerInterceptor for F
where
    F: Fn(&mut ServerCall<'_>) -> Result<(), Status> + Send + Sync + 'static,
{
    fn intercept<'a>(&'a self, call: &'a mut ServerCall<'_>) -> InterceptFuture<'a> {
        Box::pin(std::future::ready(self(call)))
    }
}

/// A hook run by a generated client before every call it sends.
///
/// ```
/// use greeter_runtime::{ClientCall, ClientInterceptor, InterceptFuture};
///
/// /// Tags every call with the method name, for a proxy's logs.
/// struct TagMethod;
///
/// impl ClientInterceptor for TagMethod {
///     fn intercept<'a>(&'a self, call: &'a mut ClientCall<'_>) -> InterceptFuture<'a> {
///         Box::pin(async move {
///             let value = call.method().method().parse().expect("method names are ASCII");
///             call.metadata_mut().insert("x-method", value);
///             Ok(())
///         })
///     }
/// }
/// ```
pub trait ClientInterceptor: Send + Sync + 'static {
    /// Inspects or edits the call; `Err(status)` fails the call without sending it.
    fn intercept<'a>(&'a self, call: &'a mut ClientCall<'_>) -> InterceptFuture<'a>;
}

/// Any `Fn(&mut ClientCall) -> Result<(), Status>` is a (synchronous) client interceptor.
impl<F> ClientInterceptor for F
where
    F: Fn(&mut ClientCall<'_>) -> Result<(), Status> + Send + Sync + 'static,
{
    fn intercept<'a>(&'a self, call: &'a mut ClientCall<'_>) -> InterceptFuture<'a> {
        Box::pin(std::future::ready(self(call)))
    }
}
