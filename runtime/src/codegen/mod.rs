//! Support types that only generated code uses; reached through `__codegen`.
//!
//! What is the same for every service lives here, generic over the service, so that the generator
//! emits per method only what differs (a path, a constant, the handler to call): each emitted line
//! is compiled by every user for every service.

mod client;
pub mod contract;
mod intercept;
mod observed;
mod server;
mod size_limit;

pub use client::{ClientCore, Transport};
pub use server::{RequestBody, ServedMessage, ServerCore, ServerFuture};

use tonic::codec::{Codec, CompressionEncoding, EnabledCompressionEncodings};

/// Per-server transport settings, copied into every call's `Grpc` handler.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerConfig {
    accept_compression_encodings: EnabledCompressionEncodings,
    send_compression_encodings: EnabledCompressionEncodings,
    max_decoding_message_size: Option<usize>,
    max_encoding_message_size: Option<usize>,
}

impl ServerConfig {
    /// Accepts requests compressed with `encoding`.
    pub fn accept_compressed(&mut self, encoding: CompressionEncoding) {
        self.accept_compression_encodings.enable(encoding);
    }

    /// Compresses responses with `encoding` when the client accepts it.
    pub fn send_compressed(&mut self, encoding: CompressionEncoding) {
        self.send_compression_encodings.enable(encoding);
    }

    /// Limits the size of a decoded request message.
    pub fn max_decoding_message_size(&mut self, limit: usize) {
        self.max_decoding_message_size = Some(limit);
    }

    /// Limits the size of an encoded response message.
    pub fn max_encoding_message_size(&mut self, limit: usize) {
        self.max_encoding_message_size = Some(limit);
    }

    /// A tonic server handler for one call with these settings applied.
    pub fn grpc<C: Codec>(self, codec: C) -> tonic::server::Grpc<C> {
        tonic::server::Grpc::new(codec)
            .apply_compression_config(
                self.accept_compression_encodings,
                self.send_compression_encodings,
            )
            .apply_max_message_size_config(
                self.max_decoding_message_size,
                self.max_encoding_message_size,
            )
    }
}
