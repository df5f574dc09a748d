//! What `protocols` and `ciphers` (checked by the configuration crate's
//! `tls_lists`) mean for rustls: the protocol versions, and a crypto
//! provider that offers only the chosen TLS 1.2 suites (TLS 1.3's are always
//! offered, as with OpenSSL and libtls). Shared by the smtp listeners and
//! the mta's relays.

use rustls::crypto::CryptoProvider;
use rustls::SupportedProtocolVersion;
use smtpd_config::tls_lists;
use std::sync::Arc;

/// The ring provider, its TLS 1.2 suites cut to `ciphers`. A value that
/// somehow does not parse (the configuration check refuses them) leaves
/// them all.
pub fn provider(ciphers: Option<&str>) -> Arc<CryptoProvider> {
    let mut p = rustls::crypto::ring::default_provider();
    let Some(chosen) = ciphers.and_then(|c| tls_lists::parse_ciphers(c).ok()) else {
        return Arc::new(p);
    };
    let names: Vec<&str> = chosen
        .iter()
        .map(|i| tls_lists::TLS12_SUITES[*i].iana)
        .collect();
    p.cipher_suites.retain(|s| match s {
        rustls::SupportedCipherSuite::Tls13(_) => true,
        rustls::SupportedCipherSuite::Tls12(_) => {
            s.suite().as_str().is_some_and(|n| names.contains(&n))
        }
    });
    Arc::new(p)
}

/// The protocol versions `protocols` leaves (TLS 1.2 and 1.3 without one).
pub fn versions(protocols: Option<&str>) -> Vec<&'static SupportedProtocolVersion> {
    let v = protocols
        .and_then(|p| tls_lists::parse_protocols(p).ok())
        .unwrap_or(tls_lists::TlsVersions {
            tls12: true,
            tls13: true,
        });
    let mut out = Vec::new();
    if v.tls13 {
        out.push(&rustls::version::TLS13);
    }
    if v.tls12 {
        out.push(&rustls::version::TLS12);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ciphers_cut_only_tls12_suites() {
        let all = provider(None).cipher_suites.len();
        let p = provider(Some("ECDHE-RSA-AES256-GCM-SHA384"));
        let tls12: Vec<_> = p
            .cipher_suites
            .iter()
            .filter(|s| matches!(s, rustls::SupportedCipherSuite::Tls12(_)))
            .collect();
        assert_eq!(tls12.len(), 1);
        assert_eq!(p.cipher_suites.len(), all - 5, "TLS 1.3 suites kept");
        assert_eq!(versions(Some("tlsv1.3")), vec![&rustls::version::TLS13]);
        assert_eq!(versions(None).len(), 2);
    }
}
