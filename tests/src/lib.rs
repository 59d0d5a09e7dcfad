//! The golden files, compiled: `tests/golden/` holds what the plugin writes for the Greeter and
//! stress protos (checked by the plugin's own tests). Including them here makes `cargo build`,
//! `cargo clippy -D warnings` and `cargo test --doc` judge the generated code itself, and the
//! integration tests in `tests/` run real calls through it.

/// The Greeter, as the plugin generates it.
pub mod greeter {
    include!("../golden/greeter/greeter.v1.rs");
}

/// The stress set: nested and multiple packages, cross-package imports, well-known types, a
/// service with no methods, every streaming kind, keyword and odd names, proto2 and proto3
/// `optional`.
pub mod stress_set {
    include!("../golden/stress/mod.rs");
}

/// The Greeter generated with `default_stubs`: every method has an UNIMPLEMENTED default.
pub mod greeter_stubs {
    include!(concat!(env!("OUT_DIR"), "/stubs/greeter.v1.rs"));
}

/// Loopback plumbing the integration tests share.
pub mod net {
    use std::net::SocketAddr;

    use tonic::transport::server::Router;
    use tonic::transport::{Channel, Endpoint};

    /// Serves `router` on a free loopback port for the rest of the test.
    pub async fn serve(router: Router) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        tokio::spawn(router.serve_with_incoming(incoming));
        addr
    }

    /// A channel connected to `addr`.
    pub async fn channel(addr: SocketAddr) -> Channel {
        Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }
}
