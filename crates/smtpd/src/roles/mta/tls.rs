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
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use smtpd_config::Method;
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
    /// Client certificates (a relay action's `pki`), by pki name: read at
    /// start, as root, before the chroot.
    client_certs: HashMap<String, ClientCert>,
    /// Configurations built so far, by what they were built for (a handful
    /// per server: one per verification mode, `ca`, `pki` and action with
    /// its own `protocols`/`ciphers`).
    built: Mutex<HashMap<Choice, Arc<ClientConfig>>>,
}

/// A certificate chain and its key.
struct ClientCert {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

/// Read the certificate and key of pki `name`.
fn read_client_cert(rt: &RuntimeConfig, name: &str) -> Result<ClientCert, String> {
    let pki = rt
        .config
        .pki(name)
        .ok_or_else(|| format!("pki {name} is not declared"))?;
    let (Some(cert), Some(key)) = (&pki.cert, &pki.key) else {
        return Err(format!("pki {name} needs both a cert and a key"));
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("pki {name}: {cert}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("pki {name}: {cert}: {e}"))?;
    if chain.is_empty() {
        return Err(format!("pki {name}: {cert}: no certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("pki {name}: {key}: {e}"))?;
    Ok(ClientCert { chain, key })
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
    /// The relay action's `pki`: the client certificate shown.
    pub pki: Option<String>,
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
        let mut client_certs = HashMap::new();
        for action in &rt.config.actions {
            let Method::Relay(relay) = &action.method else {
                continue;
            };
            let Some(name) = &relay.pki else { continue };
            if client_certs.contains_key(name) {
                continue;
            }
            let cert = read_client_cert(rt, name)
                .map_err(|e| rustls::Error::General(format!("action {}: {e}", action.name)))?;
            client_certs.insert(name.clone(), cert);
        }
        let tls = Tls {
            system,
            cas,
            client_certs,
            built: Mutex::new(HashMap::new()),
        };
        // The common configuration, built now so that a provider problem
        // shows at start.
        tls.config(&Choice {
            verify: false,
            ca: None,
            protocols: None,
            ciphers: None,
            pki: None,
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
        let cert = match &c.pki {
            Some(name) => Some(
                self.client_certs
                    .get(name)
                    .ok_or_else(|| format!("pki {name} was not loaded"))?,
            ),
            None => None,
        };
        let builder = if !c.verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
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
            builder.with_root_certificates(roots)
        };
        let cfg = match cert {
            Some(cc) => builder
                .with_client_auth_cert(cc.chain.clone(), cc.key.clone_key())
                .map_err(|e| format!("client certificate: {e}"))?,
            None => builder.with_no_client_auth(),
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
