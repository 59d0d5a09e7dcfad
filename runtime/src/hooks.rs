//! Typed per-method hooks: the generic half of the `<service>_hooks` modules the generator emits.
//!
//! Per service the generator writes a trait (`greeter_hooks::GreeterHooks`) with two methods per
//! RPC, one that sees each request message and one that sees each response message, typed and
//! with no-op defaults, plus a [`HookRoutes`] table naming which hook sees which method's
//! messages. [`HooksInterceptor`] turns any implementation into a [`CallInterceptor`], written
//! once here rather than per service:
//!
//! ```text
//! let server = GreeterServer::new(MyGreeter).with_call_interceptor(greeter_hooks::intercept(MyHooks));
//! let client = GreeterClient::new(channel).with_call_interceptor(greeter_hooks::intercept(MyHooks));
//! ```
//!
//! **Sides.** The same hooks work on a server and on a client: a request hook sees each request
//! where it crosses this side (a server: as it arrives, before the handler; a client: before it
//! is encoded and sent), a response hook each response (a server: before it is encoded and sent;
//! a client: as it arrives, before the caller sees it). [`CallContext::side`] tells them apart.
//!
//! **Sync.** Hooks run in the codec, as each message is decoded or encoded, so they are plain
//! functions: cheap per message, and they may read, change or reject it (`Err` ends the call
//! with that status). Work that must wait on something belongs in a
//! [`CallInterceptor::call`] or a [`HeadInterceptor`](crate::HeadInterceptor).

use std::fmt;
use std::marker::PhantomData;

use tonic::Status;

use crate::CallInterceptor;
use crate::interceptor::{AnyMessage, CallContext, Side};

/// Which typed hook of an `H` sees which method's messages: a generated `<Service>HookRoutes`
/// implements it for every `H` that implements the service's hooks trait. Users do not.
pub trait HookRoutes<H>: 'static {
    /// Hands a request message of `context.method()` to its typed hook, if the method is one of
    /// this service's.
    fn request(
        hooks: &H,
        context: &CallContext,
        message: &mut AnyMessage<'_>,
    ) -> Result<(), Status>;

    /// Hands a response message of `context.method()` to its typed hook, if the method is one
    /// of this service's.
    fn response(
        hooks: &H,
        context: &CallContext,
        message: &mut AnyMessage<'_>,
    ) -> Result<(), Status>;
}

/// A typed hooks implementation `H` run as a [`CallInterceptor`], its messages routed to the
/// typed hooks by `R`. Made by the generated `<service>_hooks::intercept(hooks)`; install it
/// with `with_call_interceptor` on a generated server or client (or in an
/// [`Interceptors`](crate::Interceptors) chain). Methods of other services pass untouched.
pub struct HooksInterceptor<H, R> {
    hooks: H,
    routes: PhantomData<fn() -> R>,
}

impl<H, R> HooksInterceptor<H, R> {
    /// Runs `hooks` on every message of the service `R` routes.
    pub fn new(hooks: H) -> Self {
        Self {
            hooks,
            routes: PhantomData,
        }
    }

    /// The hooks implementation.
    pub fn get_ref(&self) -> &H {
        &self.hooks
    }
}

impl<H, R> CallInterceptor for HooksInterceptor<H, R>
where
    H: Send + Sync + 'static,
    R: HookRoutes<H>,
{
    fn wraps_call(&self) -> bool {
        false
    }

    fn on_receive(
        &self,
        context: &CallContext,
        message: &mut AnyMessage<'_>,
    ) -> Result<(), Status> {
        match context.side() {
            Side::Server => R::request(&self.hooks, context, message),
            Side::Client => R::response(&self.hooks, context, message),
        }
    }

    fn on_send(&self, context: &CallContext, message: &mut AnyMessage<'_>) -> Result<(), Status> {
        match context.side() {
            Side::Server => R::response(&self.hooks, context, message),
            Side::Client => R::request(&self.hooks, context, message),
        }
    }
}

impl<H: fmt::Debug, R> fmt::Debug for HooksInterceptor<H, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HooksInterceptor")
            .field("hooks", &self.hooks)
            .field("routes", &std::any::type_name::<R>())
            .finish()
    }
}

/// Calls one typed hook with `message` as its concrete type: what each arm of a generated
/// [`HookRoutes`] does. A message of another type is an error rather than a skipped hook, so a
/// check can never be bypassed quietly.
pub fn hook<H, M: 'static>(
    hook: impl FnOnce(&H, &CallContext, &mut M) -> Result<(), Status>,
    hooks: &H,
    context: &CallContext,
    message: &mut AnyMessage<'_>,
) -> Result<(), Status> {
    let full_name = message.full_name();
    match message.downcast_mut::<M>() {
        Some(message) => hook(hooks, context, message),
        None => Err(Status::internal(format!(
            "the typed hooks of `{}` expected a `{}` message, not `{full_name}`",
            context.method().path(),
            std::any::type_name::<M>(),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::{Idempotency, MethodInfo, StreamingKind};

    #[derive(Clone, PartialEq, prost::Message)]
    struct Text {
        #[prost(string, tag = "1")]
        text: String,
    }

    const SHOUT: MethodInfo = MethodInfo::new(
        "demo.v1.Demo",
        "Shout",
        "/demo.v1.Demo/Shout",
        StreamingKind::Unary,
        Idempotency::Unknown,
    )
    .with_message_types("demo.v1.Text", "demo.v1.Text");
    const OTHER: MethodInfo = MethodInfo::new(
        "demo.v1.Other",
        "Shout",
        "/demo.v1.Other/Shout",
        StreamingKind::Unary,
        Idempotency::Unknown,
    );

    /// What a generated hooks trait and its routes look like, for one method.
    trait DemoHooks: Send + Sync + 'static {
        fn shout(&self, _: &CallContext, _: &mut Text) -> Result<(), Status> {
            Ok(())
        }
        fn shout_response(&self, _: &CallContext, _: &mut Text) -> Result<(), Status> {
            Ok(())
        }
    }

    struct DemoHookRoutes;

    impl<H: DemoHooks> HookRoutes<H> for DemoHookRoutes {
        fn request(h: &H, cx: &CallContext, m: &mut AnyMessage<'_>) -> Result<(), Status> {
            match cx.method().path() {
                "/demo.v1.Demo/Shout" => hook(H::shout, h, cx, m),
                _ => Ok(()),
            }
        }
        fn response(h: &H, cx: &CallContext, m: &mut AnyMessage<'_>) -> Result<(), Status> {
            match cx.method().path() {
                "/demo.v1.Demo/Shout" => hook(H::shout_response, h, cx, m),
                _ => Ok(()),
            }
        }
    }

    /// Records which hook saw what, and uppercases requests.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl DemoHooks for Recorder {
        fn shout(&self, _: &CallContext, request: &mut Text) -> Result<(), Status> {
            self.0
                .lock()
                .unwrap()
                .push(format!("request {}", request.text));
            request.text = request.text.to_uppercase();
            Ok(())
        }
        fn shout_response(&self, _: &CallContext, response: &mut Text) -> Result<(), Status> {
            self.0
                .lock()
                .unwrap()
                .push(format!("response {}", response.text));
            Ok(())
        }
    }

    fn interceptor() -> HooksInterceptor<Recorder, DemoHookRoutes> {
        HooksInterceptor::new(Recorder::default())
    }

    fn text(text: &str) -> Text {
        Text { text: text.into() }
    }

    #[test]
    fn a_server_receives_requests_and_sends_responses() {
        let hooks = interceptor();
        let context = CallContext::new(Side::Server, &SHOUT);
        let mut request = text("hi");
        let mut response = text("ok");
        hooks
            .on_receive(&context, &mut AnyMessage::new(&mut request, "demo.v1.Text"))
            .unwrap();
        hooks
            .on_send(
                &context,
                &mut AnyMessage::new(&mut response, "demo.v1.Text"),
            )
            .unwrap();
        assert_eq!(request.text, "HI");
        assert_eq!(
            *hooks.get_ref().0.lock().unwrap(),
            ["request hi", "response ok"]
        );
    }

    #[test]
    fn a_client_sends_requests_and_receives_responses() {
        let hooks = interceptor();
        let context = CallContext::new(Side::Client, &SHOUT);
        let mut request = text("hi");
        let mut response = text("ok");
        hooks
            .on_send(&context, &mut AnyMessage::new(&mut request, "demo.v1.Text"))
            .unwrap();
        hooks
            .on_receive(
                &context,
                &mut AnyMessage::new(&mut response, "demo.v1.Text"),
            )
            .unwrap();
        assert_eq!(request.text, "HI");
        assert_eq!(
            *hooks.get_ref().0.lock().unwrap(),
            ["request hi", "response ok"]
        );
    }

    #[test]
    fn other_services_pass_untouched() {
        let hooks = interceptor();
        let context = CallContext::new(Side::Server, &OTHER);
        let mut request = text("hi");
        hooks
            .on_receive(&context, &mut AnyMessage::new(&mut request, "demo.v1.Text"))
            .unwrap();
        assert_eq!(request.text, "hi");
        assert!(hooks.get_ref().0.lock().unwrap().is_empty());
    }

    #[test]
    fn a_message_of_another_type_is_an_error_not_a_skipped_hook() {
        let hooks = interceptor();
        let context = CallContext::new(Side::Server, &SHOUT);
        let mut wrong = prost_types::Duration::default();
        let status = hooks
            .on_receive(
                &context,
                &mut AnyMessage::new(&mut wrong, "google.protobuf.Duration"),
            )
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Internal);
        let message = status.message();
        assert!(
            message.starts_with("the typed hooks of `/demo.v1.Demo/Shout` expected a `")
                && message.ends_with("Text` message, not `google.protobuf.Duration`"),
            "{message}"
        );
    }
}
