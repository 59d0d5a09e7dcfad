//! The Greeter as two generators see it, over one set of message types.

/// tonic-prost-build 0.14: messages, `greeter_server` (plain tonic) and `greeter_client`, the
/// client every variant is loaded with.
pub mod tonic {
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/tonic/greeter.v1.rs"));
}

/// protoc-gen-greeter: `greeter_server` with interceptor hooks, on [`tonic`]'s messages.
pub mod greeter {
    // Only the server is used here: the builder setters and method tables are not.
    #![allow(dead_code)]
    include!(concat!(env!("OUT_DIR"), "/greeter/greeter.v1.rs"));
}
