use std::net::SocketAddr;

use tonic::metadata::MetadataMap;
use tonic::transport::server::TcpConnectInfo;

use crate::MethodInfo;

/// What an interceptor sees of a call: the method, and the request's metadata and extensions,
/// both mutable so an interceptor can attach or normalise metadata, or hand a value (say the
/// authenticated principal) to the handler through the extensions.
#[derive(Debug)]
pub struct Call<'a> {
    method: &'static MethodInfo,
    metadata: &'a mut MetadataMap,
    extensions: &'a mut tonic::Extensions,
}

/// The call as a server interceptor sees it: the incoming request's head.
pub type ServerCall<'a> = Call<'a>;

/// The call as a client interceptor sees it: the outgoing request's head.
pub type ClientCall<'a> = Call<'a>;

impl<'a> Call<'a> {
    /// Builds a view over one request's head. Generated code and tests call this.
    pub fn new(
        method: &'static MethodInfo,
        metadata: &'a mut MetadataMap,
        extensions: &'a mut tonic::Extensions,
    ) -> Self {
        Self {
            method,
            metadata,
            extensions,
        }
    }

    /// The method being called.
    pub fn method(&self) -> &'static MethodInfo {
        self.method
    }

    /// The request metadata (HTTP/2 headers less the reserved ones).
    pub fn metadata(&self) -> &MetadataMap {
        self.metadata
    }

    /// The request metadata, mutable.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        self.metadata
    }

    /// Request extensions: values handed from interceptors to the handler.
    pub fn extensions(&self) -> &tonic::Extensions {
        self.extensions
    }

    /// Request extensions, mutable.
    pub fn extensions_mut(&mut self) -> &mut tonic::Extensions {
        self.extensions
    }

    /// On the server, the peer's address when the call arrived over TCP; `None` on the client.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.extensions
            .get::<TcpConnectInfo>()
            .and_then(TcpConnectInfo::remote_addr)
    }
}
