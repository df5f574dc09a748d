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
use std::sync::{Arc, Mutex};
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
    /// The system's roots, if a bundle was found.
    system: Option<Arc<RootCertStore>>,
    /// Roots by `ca` name.
    cas: HashMap<String, Arc<RootCertStore>>,
    /// Configurations built so far, by what they were built for (a handful
    /// per server: one per verification mode, `ca` and action with its own
    /// `protocols`/`ciphers`).
    built: Mutex<HashMap<Choice, Arc<ClientConfig>>>,
}

/// What a client configuration is built for.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Choice {
    /// Check the peer's certificate (against `ca`, or the system's roots).
    pub verify: bool,
    pub ca: Option<String>,
    /// The relay action's `protocols` and `ciphers`.
    pub protocols: Option<String>,
    pub ciphers: Option<String>,
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
        let system = SYSTEM_BUNDLES
            .iter()
            .find_map(|p| roots_from(p))
            .map(Arc::new);
        let mut cas = HashMap::new();
        for ca in &rt.config.cas {
            let Some(path) = &ca.cert else { continue };
            match roots_from(path) {
                Some(r) => {
                    cas.insert(ca.name.clone(), Arc::new(r));
                }
                None => warn!("ca {}: no certificate could be read from {path}", ca.name),
            }
        }
        let tls = Tls {
            system,
            cas,
            built: Mutex::new(HashMap::new()),
        };
        // The common configuration, built now so that a provider problem
        // shows at start.
        tls.config(&Choice {
            verify: false,
            ca: None,
            protocols: None,
            ciphers: None,
        })
        .map_err(rustls::Error::General)?;
        Ok(tls)
    }

    /// The configuration for a connection.
    pub fn config(&self, c: &Choice) -> Result<Arc<ClientConfig>, String> {
        let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(cfg) = built.get(c) {
            return Ok(cfg.clone());
        }
        let provider = crate::tls_choice::provider(c.ciphers.as_deref());
        let versions = crate::tls_choice::versions(c.protocols.as_deref());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| e.to_string())?;
        let cfg = if !c.verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
                .with_no_client_auth()
        } else {
            let roots = match &c.ca {
                Some(name) => self
                    .cas
                    .get(&name.to_ascii_lowercase())
                    .cloned()
                    .ok_or_else(|| format!("ca {name} has no usable certificate"))?,
                None => self
                    .system
                    .clone()
                    .ok_or_else(|| "no system CA bundle to verify the relay with".to_string())?,
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        let cfg = Arc::new(cfg);
        built.insert(c.clone(), cfg.clone());
        Ok(cfg)
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
