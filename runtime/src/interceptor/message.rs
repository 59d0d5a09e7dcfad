//! Messages with their type erased, as call interceptors see them.

use std::any::Any;
use std::fmt;

/// What every message type offers once its type is erased. Implemented for every prost message.
trait ErasedMessage: Any + Send + Sync {
    fn encoded_len(&self) -> usize;
    fn encode_to_vec(&self) -> Vec<u8>;
    fn debug(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<M: prost::Message + fmt::Debug + 'static> ErasedMessage for M {
    fn encoded_len(&self) -> usize {
        prost::Message::encoded_len(self)
    }

    fn encode_to_vec(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(self)
    }

    fn debug(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// One request or response message whose Rust type the interceptor does not know: it can be
/// printed, measured, encoded, and downcast to its concrete type to be read or changed in place.
///
/// ```
/// use greeter_runtime::interceptor::AnyMessage;
///
/// #[derive(Clone, PartialEq, prost::Message)]
/// struct Ping {
///     #[prost(string, tag = "1")]
///     text: String,
/// }
///
/// let mut ping = Ping { text: "hi".into() };
/// let mut message = AnyMessage::new(&mut ping, "demo.v1.Ping");
/// assert_eq!(message.full_name(), "demo.v1.Ping");
/// assert_eq!(message.encoded_len(), 4);
/// assert!(format!("{message:?}").contains("hi"));
/// message.downcast_mut::<Ping>().unwrap().text = "hello".into();
/// assert!(message.downcast_ref::<String>().is_none());
/// assert_eq!(ping.text, "hello");
/// ```
pub struct AnyMessage<'a> {
    message: &'a mut dyn ErasedMessage,
    full_name: &'static str,
}

impl<'a> AnyMessage<'a> {
    /// Erases the type of `message`, a message of the proto type `full_name`.
    pub fn new<M: prost::Message + fmt::Debug + 'static>(
        message: &'a mut M,
        full_name: &'static str,
    ) -> Self {
        Self { message, full_name }
    }

    /// The proto full name of the message type, e.g. `greeter.v1.HelloRequest`.
    pub fn full_name(&self) -> &'static str {
        self.full_name
    }

    /// The length of the message encoded, in bytes (without gRPC's 5-byte frame header).
    pub fn encoded_len(&self) -> usize {
        self.message.encoded_len()
    }

    /// The message encoded in the protobuf wire format.
    pub fn encode_to_vec(&self) -> Vec<u8> {
        self.message.encode_to_vec()
    }

    /// The message as its concrete type `T`, if it is one.
    pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
        self.message.as_any().downcast_ref()
    }

    /// The message as its concrete type `T`, mutable (to change or replace it), if it is one.
    pub fn downcast_mut<T: 'static>(&mut self) -> Option<&mut T> {
        self.message.as_any_mut().downcast_mut()
    }

    /// Whether the message is of the concrete type `T`.
    pub fn is<T: 'static>(&self) -> bool {
        self.message.as_any().is::<T>()
    }
}

impl fmt::Debug for AnyMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.message.debug(f)
    }
}
