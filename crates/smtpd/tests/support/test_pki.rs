//! Certificates for TLS tests (rcgen): a CA and a server certificate it
//! signed for `localhost` and 127.0.0.1, as a rustls server configuration.

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;

pub struct TestPki {
    /// The CA certificate, PEM (what a `ca` statement points at).
    pub ca_pem: String,
    pub server: Arc<rustls::ServerConfig>,
    /// The server certificate and the CA's, PEM (a `pki … cert` file).
    pub chain_pem: String,
    /// The server's private key, PEM (a `pki … key` file).
    pub key_pem: String,
    ca_der: CertificateDer<'static>,
    /// A client certificate the CA signed, and its key.
    client_chain: Vec<CertificateDer<'static>>,
    client_key_der: Vec<u8>,
    /// The same, PEM.
    client_pem: (String, String),
    /// The server's chain and key, for other server configurations.
    server_chain: Vec<CertificateDer<'static>>,
    server_key_der: Vec<u8>,
}

impl TestPki {
    pub fn new() -> TestPki {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "smtpd test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone(), ca.der().clone()];
        let chain_pem = format!("{}{}", cert.pem(), ca.pem());
        let client_key = rcgen::KeyPair::generate().unwrap();
        let mut client_params =
            rcgen::CertificateParams::new(vec!["client.test".to_string()]).unwrap();
        client_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client_params.signed_by(&client_key, &ca).unwrap();
        let key_pem = key.serialize_pem();
        let server_key_der = key.serialize_der();
        let server_chain = chain.clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        TestPki {
            ca_pem: ca.pem(),
            server: Arc::new(server),
            chain_pem,
            key_pem,
            ca_der: ca.der().clone(),
            client_chain: vec![client_cert.der().clone()],
            client_key_der: client_key.serialize_der(),
            client_pem: (client_cert.pem(), client_key.serialize_pem()),
            server_chain,
            server_key_der,
        }
    }

    /// A client configuration that trusts this CA and shows the client
    /// certificate it signed.
    pub fn client_with_cert(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.client_key_der.clone()));
        Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_client_auth_cert(self.client_chain.clone(), key)
            .unwrap(),
        )
    }

    /// A client configuration that trusts this CA only and speaks only
    /// these protocol versions.
    pub fn client_speaking(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
        )
    }

    /// A client configuration that trusts this CA only.
    pub fn client(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
        )
    }

    /// A server configuration (the same certificate) that demands a client
    /// certificate signed by this CA.
    pub fn server_requiring_client_cert(&self) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key_der.clone()));
        Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_client_cert_verifier(verifier)
                .with_single_cert(self.server_chain.clone(), key)
                .unwrap(),
        )
    }

    /// Write the client certificate and key as `DIR/NAME.crt` and
    /// `DIR/NAME.key`; returns the `pki` statements that declare them.
    pub fn write_client_pki(&self, dir: &std::path::Path, name: &str) -> String {
        let crt = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&crt, &self.client_pem.0).unwrap();
        std::fs::write(&key, &self.client_pem.1).unwrap();
        format!(
            "pki {name} cert \"{}\"\npki {name} key \"{}\"\n",
            crt.display(),
            key.display()
        )
    }

    /// Write the certificate chain and key as `DIR/NAME.crt` and
    /// `DIR/NAME.key`; returns the `pki` statements that declare them.
    pub fn write_pki(&self, dir: &std::path::Path, name: &str) -> String {
        let crt = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&crt, &self.chain_pem).unwrap();
        std::fs::write(&key, &self.key_pem).unwrap();
        format!(
            "pki {name} cert \"{}\"\npki {name} key \"{}\"\n",
            crt.display(),
            key.display()
        )
    }
}
