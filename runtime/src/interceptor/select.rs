//! Per-method selection: run an interceptor on some methods only.

use tonic::Status;

use super::{
    AnyMessage, Call, CallContext, CallInterceptor, Head, HeadInterceptor, InterceptFuture, Next,
};
use crate::MethodInfo;

/// Which methods a [`Selected`] interceptor runs on.
enum Selector {
    Only(&'static [MethodInfo]),
    Except(&'static [MethodInfo]),
    When(Box<dyn Fn(&MethodInfo) -> bool + Send + Sync>),
}

impl Selector {
    /// Whether the interceptor runs for `method`; `None` is a path no generated service
    /// declared (seen only by the head layer): `only` and `when` skip it, `except` runs on it.
    fn selects(&self, method: Option<&MethodInfo>) -> bool {
        let listed = |methods: &[MethodInfo]| {
            method.is_some_and(|method| methods.iter().any(|m| m.path() == method.path()))
        };
        match self {
            Self::Only(methods) => listed(methods),
            Self::Except(methods) => !listed(methods),
            Self::When(predicate) => method.is_some_and(predicate),
        }
    }
}

/// An interceptor that runs on the methods its selector picks and lets every other call pass
/// untouched. Built by [`only`], [`except`] and [`when`]; it is a head interceptor, a call
/// interceptor, or both, as the interceptor it wraps is.
pub struct Selected<I> {
    selector: Selector,
    inner: I,
}

/// Runs `interceptor` on the listed methods only (the generated `…_methods` constants).
///
/// ```
/// use greeter_runtime::interceptor::{Head, only};
/// use greeter_runtime::{Idempotency, Interceptors, MethodInfo, StreamingKind};
///
/// const SAY_HELLO: MethodInfo = MethodInfo::new(
///     "greeter.v1.Greeter", "SayHello", "/greeter.v1.Greeter/SayHello",
///     StreamingKind::Unary, Idempotency::Unknown,
/// );
/// let chain = Interceptors::new().with_head(only(&[SAY_HELLO], |head: &mut Head<'_>| {
///     head.metadata_mut().insert("x-greeting", "1".parse().unwrap());
///     Ok(())
/// }));
/// # let _ = chain;
/// ```
pub fn only<I>(methods: &'static [MethodInfo], interceptor: I) -> Selected<I> {
    Selected {
        selector: Selector::Only(methods),
        inner: interceptor,
    }
}

/// Runs `interceptor` on every method except the listed ones.
pub fn except<I>(methods: &'static [MethodInfo], interceptor: I) -> Selected<I> {
    Selected {
        selector: Selector::Except(methods),
        inner: interceptor,
    }
}

/// Runs `interceptor` on the methods for which `predicate` is true, e.g.
/// `when(|m| m.kind().is_server_streaming(), i)`.
pub fn when<I>(
    predicate: impl Fn(&MethodInfo) -> bool + Send + Sync + 'static,
    interceptor: I,
) -> Selected<I> {
    Selected {
        selector: Selector::When(Box::new(predicate)),
        inner: interceptor,
    }
}

impl<I: HeadInterceptor> HeadInterceptor for Selected<I> {
    fn head<'a>(&'a self, head: &'a mut Head<'_>) -> InterceptFuture<'a> {
        if self.selector.selects(head.method()) {
            self.inner.head(head)
        } else {
            super::ready(Ok(()))
        }
    }
}

impl<I: CallInterceptor> CallInterceptor for Selected<I> {
    fn call<'a>(&'a self, call: &'a mut Call<'_>, next: Next<'a>) -> InterceptFuture<'a> {
        if self.selector.selects(Some(call.method())) {
            self.inner.call(call, next)
        } else {
            next.forward(call)
        }
    }

    fn wraps_call(&self) -> bool {
        self.inner.wraps_call()
    }

    fn wraps(&self, context: &CallContext) -> bool {
        self.selector.selects(Some(context.method())) && self.inner.wraps(context)
    }

    fn on_receive(
        &self,
        context: &CallContext,
        message: &mut AnyMessage<'_>,
    ) -> Result<(), Status> {
        if self.selector.selects(Some(context.method())) {
            self.inner.on_receive(context, message)
        } else {
            Ok(())
        }
    }

    fn on_send(&self, context: &CallContext, message: &mut AnyMessage<'_>) -> Result<(), Status> {
        if self.selector.selects(Some(context.method())) {
            self.inner.on_send(context, message)
        } else {
            Ok(())
        }
    }

    fn on_end(&self, context: &CallContext, status: &Status) {
        if self.selector.selects(Some(context.method())) {
            self.inner.on_end(context, status);
        }
    }
}

impl<I> std::fmt::Debug for Selected<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let selector = match &self.selector {
            Selector::Only(methods) => format!("only {} methods", methods.len()),
            Selector::Except(methods) => format!("except {} methods", methods.len()),
            Selector::When(_) => "when a predicate holds".to_owned(),
        };
        f.debug_struct("Selected")
            .field("selector", &selector)
            .finish_non_exhaustive()
    }
}
