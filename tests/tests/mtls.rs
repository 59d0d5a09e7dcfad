//! Head interceptors over mutual TLS: the certificates a client presents reach
//! `Head::peer_certs`, leaf first, together with the peer address; a client without a certificate
//! is seen as one, and the interceptor's verdict reaches it. Certificates are made for each run.

use std::sync::{Arc, Mutex};

use greeter_examples::pb::HelloRequest;
use greeter_examples::pb::greeter_client::GreeterClient;
use greeter_examples::pb::greeter_server::GreeterServer;
use greeter_examples::server::GreeterService;
use greeter_runtime::interceptor::Head;
use greeter_tests::net;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tonic::transport::{
    Certificate, CertificateDer, Channel, ClientTlsConfig, Endpoint, Identity, Server,
    ServerTlsConfig,
};
use tonic::{Code, Status};

/// A CA, and a certificate with its key signed by it for `name`.
struct Pki {
    ca_pem: String,
    ca: CertifiedIssuer<'static, KeyPair>,
}

struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

impl Pki {
    fn new(common_name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self {
            ca_pem: ca.pem(),
            ca,
        }
    }

    fn leaf(&self, names: &[&str], common_name: &str) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let cert = params.signed_by(&key, &self.ca).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }
}

/// What the head interceptor saw of one call: the peer's certificate chain (DER) and whether
/// the peer address was known.
type SeenCall = (Option<Vec<Vec<u8>>>, bool);

#[derive(Default)]
struct Seen {
    calls: Mutex<Vec<SeenCall>>,
}

/// Serves the example Greeter over TLS, its client certificate optional, behind a head
/// interceptor that records what it sees and rejects callers without a certificate.
async fn serve(pki: &Pki, seen: Arc<Seen>) -> std::net::SocketAddr {
    let server_leaf = pki.leaf(&["localhost"], "greeter server");
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(
            &server_leaf.cert_pem,
            &server_leaf.key_pem,
        ))
        .client_ca_root(Certificate::from_pem(&pki.ca_pem))
        .client_auth_optional(true);
    let greeter = GreeterServer::new(GreeterService::new("test", 0)).with_head_interceptor(
        move |head: &mut Head<'_>| {
            let chain = head
                .peer_certs()
                .map(|certs| certs.iter().map(|cert| cert.to_vec()).collect::<Vec<_>>());
            let present = chain.is_some();
            seen.calls
                .lock()
                .unwrap()
                .push((chain, head.remote_addr().is_some()));
            if present {
                Ok(())
            } else {
                Err(Status::unauthenticated("a client certificate is required"))
            }
        },
    );
    let router = Server::builder()
        .tls_config(tls)
        .unwrap()
        .add_service(greeter);
    net::serve(router).await
}

fn connect(addr: std::net::SocketAddr, pki: &Pki, identity: Option<&Leaf>) -> Channel {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca_pem))
        .domain_name("localhost");
    if let Some(leaf) = identity {
        tls = tls.identity(Identity::from_pem(&leaf.cert_pem, &leaf.key_pem));
    }
    Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect_lazy()
}

fn hello() -> HelloRequest {
    HelloRequest {
        name: "mtls".into(),
    }
}

#[tokio::test]
async fn head_interceptor_sees_the_client_certificate() {
    let pki = Pki::new("test CA");
    let seen = Arc::new(Seen::default());
    let addr = serve(&pki, seen.clone()).await;
    let client_leaf = pki.leaf(&[], "greeter client");

    let mut client = GreeterClient::new(connect(addr, &pki, Some(&client_leaf)));
    let reply = client.say_hello(hello()).await.unwrap().into_inner();
    assert!(reply.reply.contains("mtls"), "{reply:?}");

    let calls = seen.calls.lock().unwrap();
    assert_eq!(calls.len(), 1);
    let (chain, has_addr) = &calls[0];
    let chain = chain.as_ref().expect("the client's certificates");
    assert_eq!(
        chain.first().map(Vec::as_slice),
        Some(client_leaf.der.as_ref()),
        "leaf first"
    );
    assert!(*has_addr, "the peer address is known over TLS too");
}

#[tokio::test]
async fn a_client_without_a_certificate_is_seen_and_rejected() {
    let pki = Pki::new("test CA");
    let seen = Arc::new(Seen::default());
    let addr = serve(&pki, seen.clone()).await;

    let mut client = GreeterClient::new(connect(addr, &pki, None));
    let status = client.say_hello(hello()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(status.message(), "a client certificate is required");

    let calls = seen.calls.lock().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0], (None, true));
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_before_any_call() {
    let pki = Pki::new("test CA");
    let seen = Arc::new(Seen::default());
    let addr = serve(&pki, seen.clone()).await;
    let stranger = Pki::new("another CA").leaf(&[], "intruder");

    let mut client = GreeterClient::new(connect(addr, &pki, Some(&stranger)));
    let status = client.say_hello(hello()).await.unwrap_err();
    // TLS 1.3 sends the server's verdict after the client's handshake is done, so tonic
    // reports it as a transport error of the call; its source names the cause.
    assert!(format!("{status:?}").contains("UnknownCA"), "{status:?}");
    assert!(
        seen.calls.lock().unwrap().is_empty(),
        "the TLS handshake fails before any head interceptor runs"
    );
}
