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

mod client;
mod server;

use std::future::Future;
use std::pin::Pin;

use tonic::Status;

pub use client::{ClientCall, ClientInterceptor, ClientInterceptors};
pub use server::{ServerCall, ServerInterceptor, ServerInterceptors};

/// The future an interceptor returns: `Ok(())` lets the call go on, `Err` ends it.
pub type InterceptFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Status>> + Send + 'a>>;
