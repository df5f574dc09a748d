//! TLS client configurations of the mta (rustls, ring provider).
//!
//! - Opportunistic STARTTLS accepts any certificate, as OpenSMTPD does:
//!   encryption against passive listeners is better than plaintext, and
//!   refusing an unverifiable peer would only push the mail to plaintext.
//! - `smtp+tls://`, `smtps://` and the `tls` option verify the peer against
//!   the action's `ca` or the system's CA bundle, unless `tls no-verify`.
//!
//! The roots are read at start, before the chroot hides them.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::collections::HashMap;
use std::sync::Arc;
use tracing::warn;

use crate::msg::RuntimeConfig;

/// Where systems keep their CA bundle (Debian/Ubuntu/Alpine, Fedora/RHEL,
/// the BSDs, SUSE). The first that holds certificates wins.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
    "/etc/ssl/ca-bundle.pem",
];

pub struct Tls {
    unverified: Arc<ClientConfig>,
    system: Option<Arc<ClientConfig>>,
    /// By `ca` name.
    cas: HashMap<String, Arc<ClientConfig>>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn builder() -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>, rustls::Error> {
    ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()
}

fn verified(roots: RootCertStore) -> Option<Arc<ClientConfig>> {
    let b = builder().ok()?;
    Some(Arc::new(
        b.with_root_certificates(roots).with_no_client_auth(),
    ))
}

/// The certificates of a PEM file, as roots; `None` if it holds none.
fn roots_from(path: &str) -> Option<RootCertStore> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .ok()?
        .filter_map(Result::ok)
        .collect();
    let mut store = RootCertStore::empty();
    let (added, _) = store.add_parsable_certificates(certs);
    (added > 0).then_some(store)
}

impl Tls {
    /// Read the roots. Missing roots are not fatal: a relay that needs
    /// verification then fails temporarily, with a clear reason.
    pub fn load(rt: &RuntimeConfig) -> Result<Tls, rustls::Error> {
        let unverified = builder()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider())))
            .with_no_client_auth();
        let system = SYSTEM_BUNDLES
            .iter()
            .find_map(|p| roots_from(p))
            .and_then(verified);
        let mut cas = HashMap::new();
        for ca in &rt.config.cas {
            let Some(path) = &ca.cert else { continue };
            match roots_from(path).and_then(verified) {
                Some(c) => {
                    cas.insert(ca.name.clone(), c);
                }
                None => warn!("ca {}: no certificate could be read from {path}", ca.name),
            }
        }
        Ok(Tls {
            unverified: Arc::new(unverified),
            system,
            cas,
        })
    }

    /// The configuration for a connection: verifying (against `ca` or the
    /// system's roots) or not.
    pub fn config(&self, verify: bool, ca: Option<&str>) -> Result<Arc<ClientConfig>, String> {
        if !verify {
            return Ok(self.unverified.clone());
        }
        match ca {
            Some(name) => self
                .cas
                .get(&name.to_ascii_lowercase())
                .cloned()
                .ok_or_else(|| format!("ca {name} has no usable certificate")),
            None => self
                .system
                .clone()
                .ok_or_else(|| "no system CA bundle to verify the relay with".to_string()),
        }
    }
}

/// The name a certificate is checked against (and sent as SNI).
pub fn server_name(host: &str) -> Option<ServerName<'static>> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let bare = bare.strip_prefix("IPv6:").unwrap_or(bare);
    ServerName::try_from(bare.to_string()).ok()
}

/// Accepts every certificate, but still checks the handshake signatures
/// (so the session is at least bound to the key the peer showed).
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
