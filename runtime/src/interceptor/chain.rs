use std::sync::Arc;

use tonic::Status;

use super::{AnyMessage, CallContext, CallInterceptor, Head, HeadInterceptor, Side};
use crate::MethodInfo;
use crate::interceptors::Recovery;

/// The interceptors of one server or client: a head chain and a call chain, each run in the
/// order added (the first added is the outermost). Cloning is cheap (two `Arc`s), and an empty
/// chain costs nothing per call: no allocation, no dynamic dispatch.
///
/// The whole head chain runs before the call chain: head interceptors decide on the request
/// head alone, before any message moves.
///
/// ```
/// use greeter_runtime::Interceptors;
/// use greeter_runtime::interceptor::Head;
/// use greeter_runtime::interceptors::BearerAuth;
///
/// let chain = Interceptors::new()
///     .with_head(BearerAuth::new("secret"))
///     .with_head(|head: &mut Head<'_>| {
///         let path_len = head.path().len();
///         head.extensions_mut().insert(path_len);
///         Ok(())
///     });
/// assert_eq!(chain.head_len(), 2);
/// assert_eq!(chain.call_len(), 0);
/// ```
#[derive(Clone, Default)]
pub struct Interceptors {
    head: Option<Arc<[Arc<dyn HeadInterceptor>]>>,
    call: Option<Arc<CallChain>>,
    recovery: Option<Arc<Recovery>>,
}

/// The call interceptors of a chain: every one, for the per-message and end hooks, and those
/// that wrap the call ([`CallInterceptor::wraps_call`]), for [`Next`](super::Next).
pub(crate) struct CallChain {
    pub(crate) all: Box<[Arc<dyn CallInterceptor>]>,
    pub(crate) around: Box<[Arc<dyn CallInterceptor>]>,
}

fn appended<I: ?Sized>(chain: &Option<Arc<[Arc<I>]>>, item: Arc<I>) -> Option<Arc<[Arc<I>]>> {
    let mut items: Vec<Arc<I>> = chain.as_deref().unwrap_or_default().to_vec();
    items.push(item);
    Some(items.into())
}

impl Interceptors {
    /// An empty chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the chain with a head interceptor appended: it runs after those added before.
    #[must_use]
    pub fn with_head(self, interceptor: impl HeadInterceptor) -> Self {
        self.with_shared_head(Arc::new(interceptor))
    }

    /// [`with_head`](Self::with_head) for an interceptor shared with other chains.
    #[must_use]
    pub fn with_shared_head(mut self, interceptor: Arc<dyn HeadInterceptor>) -> Self {
        self.head = appended(&self.head, interceptor);
        self
    }

    /// Returns the chain with a call interceptor appended: it runs inside those added before.
    #[must_use]
    pub fn with_call(self, interceptor: impl CallInterceptor) -> Self {
        self.with_shared_call(Arc::new(interceptor))
    }

    /// [`with_call`](Self::with_call) for an interceptor shared with other chains.
    #[must_use]
    pub fn with_shared_call(mut self, interceptor: Arc<dyn CallInterceptor>) -> Self {
        let (mut all, mut around) = match self.call.as_deref() {
            Some(chain) => (chain.all.to_vec(), chain.around.to_vec()),
            None => (Vec::new(), Vec::new()),
        };
        if interceptor.wraps_call() {
            around.push(Arc::clone(&interceptor));
        }
        all.push(interceptor);
        self.call = Some(Arc::new(CallChain {
            all: all.into(),
            around: around.into(),
        }));
        self
    }

    /// Returns the chain with panics recovered: on a server, a panic anywhere in a call (a head
    /// or call interceptor, the handler, a response stream, an end hook) answers the call
    /// INTERNAL and is logged, and the server goes on serving. Recovery is always outermost,
    /// whatever the order it was added in; call interceptors still see the call end INTERNAL.
    /// A client ignores it.
    #[must_use]
    pub fn with_recovery(mut self, recovery: Recovery) -> Self {
        self.recovery = Some(Arc::new(recovery));
        self
    }

    /// [`with_recovery`](Self::with_recovery) with a recovery shared with other chains (to
    /// read its count of recovered panics).
    #[must_use]
    pub fn with_shared_recovery(mut self, recovery: Arc<Recovery>) -> Self {
        self.recovery = Some(recovery);
        self
    }

    /// How many head interceptors the chain holds.
    pub fn head_len(&self) -> usize {
        self.head.as_deref().map_or(0, <[_]>::len)
    }

    /// How many call interceptors the chain holds.
    pub fn call_len(&self) -> usize {
        self.call.as_deref().map_or(0, |chain| chain.all.len())
    }

    /// Whether both chains are empty and panics are not recovered.
    pub fn is_empty(&self) -> bool {
        self.head.is_none() && self.call.is_none() && self.recovery.is_none()
    }

    /// The recovery of panics, if set.
    pub(crate) fn recovery(&self) -> Option<&Arc<Recovery>> {
        self.recovery.as_ref()
    }

    /// The head chain, if not empty.
    pub(crate) fn head_chain(&self) -> Option<&Arc<[Arc<dyn HeadInterceptor>]>> {
        self.head.as_ref()
    }

    /// The call chain, if not empty.
    pub(crate) fn call_chain(&self) -> Option<&Arc<CallChain>> {
        self.call.as_ref()
    }

    /// A tower layer running this chain's head interceptors in front of any service (a whole
    /// `tonic` router: health, reflection and unknown paths included). `methods` names the
    /// methods whose [`MethodInfo`] head interceptors should see; other paths get `None`.
    pub fn head_layer(&self, methods: &[&'static [MethodInfo]]) -> super::HeadLayer {
        super::HeadLayer::new(self.clone(), methods)
    }
}

/// Runs the head chain over one request head, in order, stopping at the first error.
pub(crate) async fn run_head(
    chain: &[Arc<dyn HeadInterceptor>],
    head: &mut Head<'_>,
) -> Result<(), Status> {
    for interceptor in chain {
        interceptor.head(head).await?;
    }
    Ok(())
}

/// The per-message and end hooks of a call chain, bound to one call.
#[derive(Clone)]
pub(crate) struct Hooks {
    pub(crate) chain: Arc<CallChain>,
    pub(crate) context: Arc<CallContext>,
    pub(crate) receive_type: &'static str,
    pub(crate) send_type: &'static str,
}

impl Hooks {
    pub(crate) fn new(chain: Arc<CallChain>, context: Arc<CallContext>) -> Self {
        let method = context.method();
        let (receive_type, send_type) = match context.side() {
            Side::Server => (method.input_type(), method.output_type()),
            Side::Client => (method.output_type(), method.input_type()),
        };
        Self {
            chain,
            context,
            receive_type,
            send_type,
        }
    }

    /// Whether an interceptor of the chain wraps this call ([`CallInterceptor::wraps`], asked in
    /// order until one does): when none does, the rest of the call runs without the chain.
    pub(crate) fn wrapped(&self) -> bool {
        self.chain.around.iter().any(|i| i.wraps(&self.context))
    }

    /// Runs `hook` over the chain in the order a message travelling `inward` meets it: inward
    /// (toward the handler on a server, away from the caller on a client) the outermost
    /// interceptor comes first; outward the innermost does.
    fn each(
        &self,
        inward: bool,
        mut hook: impl FnMut(&dyn CallInterceptor) -> Result<(), Status>,
    ) -> Result<(), Status> {
        if inward {
            self.chain.all.iter().try_for_each(|i| hook(i.as_ref()))
        } else {
            self.chain
                .all
                .iter()
                .rev()
                .try_for_each(|i| hook(i.as_ref()))
        }
    }

    /// A received message: a request travelling inward on a server, a response travelling
    /// outward (back to the caller) on a client.
    pub(crate) fn on_receive<M: prost::Message + std::fmt::Debug + 'static>(
        &self,
        message: &mut M,
    ) -> Result<(), Status> {
        self.context.count_received();
        let mut message = AnyMessage::new(message, self.receive_type);
        let inward = self.context.side() == Side::Server;
        self.each(inward, |i| i.on_receive(&self.context, &mut message))
    }

    /// A sent message: a response travelling outward on a server, a request travelling
    /// inward (from the caller to the network) on a client.
    pub(crate) fn on_send<M: prost::Message + std::fmt::Debug + 'static>(
        &self,
        message: &mut M,
    ) -> Result<(), Status> {
        let mut message = AnyMessage::new(message, self.send_type);
        let inward = self.context.side() == Side::Client;
        self.each(inward, |i| i.on_send(&self.context, &mut message))
            .inspect(|()| self.context.count_sent())
            .inspect_err(|status| self.context.fail_send(status))
    }

    /// Runs the end hooks, innermost first, unless they already ran for this call.
    pub(crate) fn on_end(&self, status: &Status) {
        if self.context.end() {
            for interceptor in self.chain.all.iter().rev() {
                interceptor.on_end(&self.context, status);
            }
        }
    }
}

impl std::fmt::Debug for Interceptors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interceptors")
            .field("head", &self.head_len())
            .field("call", &self.call_len())
            .field("recovery", &self.recovery.is_some())
            .finish()
    }
}
