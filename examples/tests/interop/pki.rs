//! Certificates made at run time with rcgen: a CA, a server certificate it signed, and the
//! flags of a client that trusts it.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use crate::process::TempDir;

/// The name the test certificates are issued for (gRPC's own test certificate's), which the
/// clients claim with `--server_host_override` while dialling 127.0.0.1.
const CERT_NAME: &str = "*.test.google.fr";
const CLAIMED_HOST: &str = "foo.test.google.fr";

/// A CA and the PEM files of a server certificate it signed for [`CERT_NAME`].
pub struct Pki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn ca(common_name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

impl Pki {
    pub fn new(dir: &TempDir) -> Self {
        let ca = ca("interop test CA");
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![CERT_NAME.to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "interop test server");
        let cert = params.signed_by(&key, &ca).unwrap();
        Self {
            ca: dir.write("ca.pem", &ca.pem()),
            cert: dir.write("server.pem", &cert.pem()),
            key: dir.write("server.key", &key.serialize_pem()),
        }
    }
}

/// TLS flags of a client trusting `ca` and claiming [`CLAIMED_HOST`].
pub fn tls_args(ca: &Path) -> Vec<String> {
    vec![
        "--use_tls=true".to_owned(),
        "--use_test_ca=true".to_owned(),
        format!("--ca_file={}", ca.display()),
        format!("--server_host_override={CLAIMED_HOST}"),
    ]
}
