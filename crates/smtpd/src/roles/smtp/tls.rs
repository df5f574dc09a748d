//! Server-side TLS of the smtp process (rustls, ring provider): STARTTLS
//! (RFC 3207) and implicit TLS (`smtps`, RFC 8314).
//!
//! Certificates and keys are read by [`ServerTls::load`] while the process
//! is still root and outside its chroot: key files are usually readable by
//! root only, and the chroot is empty. The configuration check of the
//! parent has already looked at the same files; this is where they are
//! turned into one rustls configuration per TLS listener.
//!
//! A session's stream is a [`Conn`]: a plain TCP stream that STARTTLS
//! upgrades in place, so the session code reads and writes the same way
//! before and after.

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig, ServerConnection};
use smtpd_config::{Config, ListenOn, Listener, ListenerTls};
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Where old releases found the certificate of `certificate NAME` (and of
/// a TLS listener without `pki`): `NAME.crt` and `NAME.key`, as the
/// configuration check does.
const CERTS_DIR: &str = "/etc/mail/certs";

#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("{}: {error}", path.display())]
    Read { path: PathBuf, error: io::Error },
    #[error("{}: no PEM certificate in file", path.display())]
    NoCert { path: PathBuf },
    #[error("{}: no usable PEM private key in file", path.display())]
    NoKey { path: PathBuf },
    #[error("pki {name}: the key does not fit the certificate ({error})")]
    Mismatch { name: String, error: rustls::Error },
    #[error("pki {0}: no certificate or no key file declared")]
    Incomplete(String),
    #[error("listen on {on}: TLS needs a certificate: no pki given, and none found for {names}")]
    NoPki { on: String, names: String },
    #[error("listen on {on}: pki {name} is neither declared nor in {CERTS_DIR}")]
    UnknownPki { on: String, name: String },
    #[error("listen on {on}: client verification needs a CA (ca NAME)")]
    NoCa { on: String },
    #[error("listen on {on}: client verification: {error}")]
    Verifier {
        on: String,
        error: rustls::server::VerifierBuilderError,
    },
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The TLS configurations of the listeners, by listener index.
#[derive(Default)]
pub struct ServerTls {
    by_listener: HashMap<usize, TlsAcceptor>,
}

impl ServerTls {
    /// Read every certificate and key the TLS listeners use. `server_name`
    /// is where a listener with neither `pki` nor `hostname` looks its
    /// certificate up.
    pub fn load(config: &Config, server_name: &str) -> Result<ServerTls, TlsSetupError> {
        let mut loaded: HashMap<String, Arc<CertifiedKey>> = HashMap::new();
        let mut by_listener = HashMap::new();
        for (index, l) in config.listeners.iter().enumerate() {
            if !l.tls.is_tls() {
                continue;
            }
            let mut certs = Vec::new();
            for name in pki_names(config, l, server_name)? {
                let ck = match loaded.get(&name) {
                    Some(ck) => ck.clone(),
                    None => {
                        let ck = Arc::new(load_pki(config, l, &name)?);
                        loaded.insert(name.clone(), ck.clone());
                        ck
                    }
                };
                certs.push((name, ck));
            }
            // `ciphers` of the listener, else `smtp ciphers`.
            let ciphers = l.ciphers.as_deref().or(config.smtp.ciphers.as_deref());
            let builder = ServerConfig::builder_with_provider(crate::tls_choice::provider(ciphers))
                .with_protocol_versions(&crate::tls_choice::versions(l.protocols.as_deref()))?;
            let builder = if verifies(l.tls) {
                let roots = client_roots(config, l)?;
                let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider())
                    .build()
                    .map_err(|error| TlsSetupError::Verifier {
                        on: on_name(l),
                        error,
                    })?;
                builder.with_client_cert_verifier(verifier)
            } else {
                builder.with_no_client_auth()
            };
            let server = builder.with_cert_resolver(Arc::new(BySni { certs }));
            by_listener.insert(index, TlsAcceptor::from(Arc::new(server)));
        }
        Ok(ServerTls { by_listener })
    }

    /// The acceptor of a TLS listener; `None` for a plain one.
    pub fn acceptor(&self, listener: usize) -> Option<TlsAcceptor> {
        self.by_listener.get(&listener).cloned()
    }
}

fn verifies(tls: ListenerTls) -> bool {
    matches!(
        tls,
        ListenerTls::StartTls { verify: true, .. } | ListenerTls::Smtps { verify: true }
    )
}

fn on_name(l: &Listener) -> String {
    match &l.on {
        ListenOn::Socket => "socket".into(),
        ListenOn::Localhost => "localhost".into(),
        ListenOn::All => "all".into(),
        ListenOn::Addr(a) => a.to_string(),
        ListenOn::Name(n) => n.clone(),
    }
}

/// The pki names of a listener, the default (no SNI, or an unknown name)
/// first. Without `pki`, the certificate is the one named after the
/// listener's hostname, else the server's name, else the interface name,
/// as old releases (and the configuration check) look it up.
fn pki_names(
    config: &Config,
    l: &Listener,
    server_name: &str,
) -> Result<Vec<String>, TlsSetupError> {
    if !l.pki.is_empty() {
        return Ok(l.pki.iter().map(|n| n.to_ascii_lowercase()).collect());
    }
    let mut candidates: Vec<String> = Vec::new();
    candidates.extend(l.hostname.clone());
    candidates.push(server_name.to_string());
    if let ListenOn::Name(n) = &l.on {
        candidates.push(n.clone());
    }
    candidates
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .find(|n| config.pki(n).is_some() || certs_dir_files(n).0.exists())
        .map(|n| vec![n])
        .ok_or_else(|| TlsSetupError::NoPki {
            on: on_name(l),
            names: candidates.join(", "),
        })
}

fn certs_dir_files(name: &str) -> (PathBuf, PathBuf) {
    let dir = Path::new(CERTS_DIR);
    (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    )
}

/// The certificate chain and key of a declared pki, or of the files of
/// the certificates directory for an undeclared name.
fn load_pki(config: &Config, l: &Listener, name: &str) -> Result<CertifiedKey, TlsSetupError> {
    let (cert, key) = match config.pki(name) {
        Some(p) => match (&p.cert, &p.key) {
            (Some(c), Some(k)) => (PathBuf::from(c), PathBuf::from(k)),
            _ => return Err(TlsSetupError::Incomplete(name.to_string())),
        },
        None => {
            let (c, k) = certs_dir_files(name);
            if !c.exists() {
                return Err(TlsSetupError::UnknownPki {
                    on: on_name(l),
                    name: name.to_string(),
                });
            }
            (c, k)
        }
    };
    let chain = read_certs(&cert)?;
    let key_pem = read(&key)?;
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|_| TlsSetupError::NoKey { path: key.clone() })?;
    CertifiedKey::from_der(chain, key_der, &provider()).map_err(|error| TlsSetupError::Mismatch {
        name: name.to_string(),
        error,
    })
}

fn read(path: &Path) -> Result<Vec<u8>, TlsSetupError> {
    std::fs::read(path).map_err(|error| TlsSetupError::Read {
        path: path.to_path_buf(),
        error,
    })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let pem = read(path)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsSetupError::NoCert {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// The CA that client certificates must chain to: the listener's `ca`, or
/// the old per-pki `ca FILE`.
fn client_roots(config: &Config, l: &Listener) -> Result<Arc<RootCertStore>, TlsSetupError> {
    let file =
        l.ca.as_deref()
            .and_then(|n| config.ca(n))
            .and_then(|c| c.cert.clone())
            .or_else(|| {
                l.pki
                    .iter()
                    .find_map(|n| config.pki(n).and_then(|p| p.ca_file.clone()))
            })
            .ok_or_else(|| TlsSetupError::NoCa { on: on_name(l) })?;
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(read_certs(Path::new(&file))?);
    Ok(Arc::new(roots))
}

/// Chooses the certificate by the name the client asked for (SNI) among
/// the listener's pki names; the first is the default.
#[derive(Debug)]
struct BySni {
    certs: Vec<(String, Arc<CertifiedKey>)>,
}

impl ResolvesServerCert for BySni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        hello
            .server_name()
            .and_then(|sni| {
                self.certs
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(sni))
            })
            .or_else(|| self.certs.first())
            .map(|(_, ck)| ck.clone())
    }
}

/// Run the server handshake on `tcp`, within `within`. On success, the
/// TLS stream and the log text of what was negotiated.
pub async fn accept(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    within: Duration,
) -> Result<(TlsStream<TcpStream>, String), String> {
    match tokio::time::timeout(within, acceptor.accept(tcp)).await {
        Err(_) => Err("handshake timeout".into()),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(s)) => {
            let desc = describe(s.get_ref().1);
            Ok((s, desc))
        }
    }
}

/// `TLSv1.3:TLS_AES_256_GCM_SHA384:256`, as OpenSMTPD's `ssl_to_text`
/// writes it (version, cipher, secret bits).
pub fn describe(conn: &ServerConnection) -> String {
    let version = conn
        .protocol_version()
        .and_then(|v| v.as_str())
        .unwrap_or("unknown")
        .replace('_', ".");
    let suite = conn
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .unwrap_or("unknown");
    // rustls names TLS 1.3 suites TLS13_…; OpenSSL (and OpenSMTPD's logs)
    // TLS_….
    let suite = suite
        .strip_prefix("TLS13_")
        .map(|s| format!("TLS_{s}"))
        .unwrap_or_else(|| suite.to_string());
    let bits = if suite.contains("AES_128") { 128 } else { 256 };
    format!("{version}:{suite}:{bits}")
}

/// A session's connection: clear TCP, TLS over it, or nothing for the
/// instant of an upgrade.
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Between taking the plain stream for a handshake and putting the TLS
    /// stream back; reads see the end of the stream, writes fail.
    Gone,
}

/// A stream STARTTLS can upgrade in place. Local sessions (socket pairs)
/// cannot: they never offer STARTTLS.
pub trait Upgrade {
    /// The clear TCP stream, taken out for the handshake.
    fn take_plain(&mut self) -> Option<TcpStream>;
    /// The stream after a successful handshake.
    fn put_tls(&mut self, tls: TlsStream<TcpStream>);
}

impl Upgrade for Conn {
    fn take_plain(&mut self) -> Option<TcpStream> {
        match std::mem::replace(self, Conn::Gone) {
            Conn::Plain(s) => Some(s),
            other => {
                *self = other;
                None
            }
        }
    }

    fn put_tls(&mut self, tls: TlsStream<TcpStream>) {
        *self = Conn::Tls(Box::new(tls));
    }
}

impl Upgrade for tokio::net::UnixStream {
    fn take_plain(&mut self) -> Option<TcpStream> {
        None
    }

    fn put_tls(&mut self, _tls: TlsStream<TcpStream>) {}
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection given up")
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Conn::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }
}
