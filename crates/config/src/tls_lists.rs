//! The values of `protocols` and `ciphers` (listeners, `smtp ciphers`),
//! in the syntax OpenSMTPD takes them from libtls, checked here so that
//! `smtpd -n` names a bad one with its position, and resolved into what
//! this server can offer: TLS 1.2 and 1.3 (rustls has nothing older), and
//! the AEAD ECDHE suites of TLS 1.2 below.
//!
//! Written here rather than taken from a crate: the syntax is libtls's and
//! OpenSSL's, and no Rust crate parses it.

/// The protocol versions a `protocols` value leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsVersions {
    pub tls12: bool,
    pub tls13: bool,
}

/// Parse a libtls protocol list: names separated by `,` or `:`, each one
/// of `tlsv1.0`, `tlsv1.1`, `tlsv1.2`, `tlsv1.3`, `tlsv1` (1.0 to 1.2 as
/// libtls has it), `all`, `legacy`, `default`, `secure`; a `!` or `-` in
/// front takes the versions away again, `+` adds. Versions this server
/// cannot speak (before 1.2) are accepted and dropped; a list that leaves
/// neither 1.2 nor 1.3 is an error.
pub fn parse_protocols(s: &str) -> Result<TlsVersions, String> {
    // Bits: 1.0, 1.1, 1.2, 1.3.
    let mut set = 0u8;
    let mut any = false;
    for raw in s.split([',', ':']).map(str::trim).filter(|t| !t.is_empty()) {
        any = true;
        let (remove, name) = match raw.as_bytes()[0] {
            b'!' | b'-' => (true, &raw[1..]),
            b'+' => (false, &raw[1..]),
            _ => (false, raw),
        };
        let bits = match name.to_ascii_lowercase().as_str() {
            "all" | "legacy" => 0b1111,
            "default" | "secure" => 0b1100,
            "tlsv1" => 0b0111,
            "tlsv1.0" => 0b0001,
            "tlsv1.1" => 0b0010,
            "tlsv1.2" => 0b0100,
            "tlsv1.3" => 0b1000,
            _ => {
                return Err(format!(
                    "unknown protocol '{name}' (expected tlsv1.2, tlsv1.3, secure, default, all or legacy)"
                ))
            }
        };
        if remove {
            set &= !bits;
        } else {
            set |= bits;
        }
    }
    if !any {
        return Err("empty protocol list".to_string());
    }
    let v = TlsVersions {
        tls12: set & 0b0100 != 0,
        tls13: set & 0b1000 != 0,
    };
    if !v.tls12 && !v.tls13 {
        return Err(format!(
            "'{s}' leaves no protocol this server speaks (TLS 1.2 and 1.3)"
        ));
    }
    Ok(v)
}

/// A TLS 1.2 suite this server offers: its IANA name (as rustls prints
/// it) and its OpenSSL name.
pub struct Suite {
    pub iana: &'static str,
    pub openssl: &'static str,
    pub ecdsa: bool,
    pub cipher: Cipher,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    Aes128Gcm,
    Aes256Gcm,
    Chacha20,
}

pub const TLS12_SUITES: &[Suite] = &[
    Suite {
        iana: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        openssl: "ECDHE-ECDSA-AES256-GCM-SHA384",
        ecdsa: true,
        cipher: Cipher::Aes256Gcm,
    },
    Suite {
        iana: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        openssl: "ECDHE-ECDSA-AES128-GCM-SHA256",
        ecdsa: true,
        cipher: Cipher::Aes128Gcm,
    },
    Suite {
        iana: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        openssl: "ECDHE-ECDSA-CHACHA20-POLY1305",
        ecdsa: true,
        cipher: Cipher::Chacha20,
    },
    Suite {
        iana: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        openssl: "ECDHE-RSA-AES256-GCM-SHA384",
        ecdsa: false,
        cipher: Cipher::Aes256Gcm,
    },
    Suite {
        iana: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        openssl: "ECDHE-RSA-AES128-GCM-SHA256",
        ecdsa: false,
        cipher: Cipher::Aes128Gcm,
    },
    Suite {
        iana: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        openssl: "ECDHE-RSA-CHACHA20-POLY1305",
        ecdsa: false,
        cipher: Cipher::Chacha20,
    },
];

/// The suites an OpenSSL cipher class takes in; `None` for a class this
/// server never offers anything of (aNULL, RC4, MD5, 3DES …), which only
/// matters to exclude.
fn class(name: &str) -> Option<Vec<usize>> {
    let all = || (0..TLS12_SUITES.len()).collect::<Vec<_>>();
    let by = |f: &dyn Fn(&Suite) -> bool| -> Vec<usize> {
        (0..TLS12_SUITES.len())
            .filter(|i| f(&TLS12_SUITES[*i]))
            .collect()
    };
    if let Some(i) = TLS12_SUITES
        .iter()
        .position(|s| s.openssl.eq_ignore_ascii_case(name) || s.iana.eq_ignore_ascii_case(name))
    {
        return Some(vec![i]);
    }
    match name.to_ascii_uppercase().as_str() {
        // libtls's keywords, and OpenSSL's broad classes: everything we
        // have is AEAD with forward secrecy, so all of it qualifies.
        "SECURE" | "DEFAULT" | "COMPAT" | "LEGACY" | "INSECURE" | "ALL" | "HIGH" | "ECDHE"
        | "EECDH" | "KECDHE" | "KEECDH" | "AEAD" | "TLSV1.2" | "FIPS" => Some(all()),
        "AESGCM" | "AES" => Some(by(&|s| s.cipher != Cipher::Chacha20)),
        "AES256" => Some(by(&|s| s.cipher == Cipher::Aes256Gcm)),
        "AES128" => Some(by(&|s| s.cipher == Cipher::Aes128Gcm)),
        "CHACHA20" => Some(by(&|s| s.cipher == Cipher::Chacha20)),
        "ECDSA" | "AECDSA" => Some(by(&|s| s.ecdsa)),
        "RSA" | "ARSA" => Some(by(&|s| !s.ecdsa)),
        "SHA384" => Some(by(&|s| s.iana.ends_with("SHA384"))),
        "SHA256" => Some(by(&|s| s.iana.ends_with("SHA256"))),
        _ => None,
    }
}

/// Parse a libtls cipher value: a keyword (`secure`, `default`, `compat`,
/// `legacy`, `insecure`, `all`) or an OpenSSL cipher list (`:`, `,` or
/// space separated; `!X` or `-X` removes, `A+B` means both). Returns the
/// indexes into [`TLS12_SUITES`] it leaves, in this server's order of
/// preference. The value governs TLS 1.2 only: TLS 1.3's suites are
/// always offered, as with OpenSSL and libtls. Names of suites this server
/// does not have are ignored, since a list is usually written for many
/// servers; a list that leaves none of ours is an error.
pub fn parse_ciphers(s: &str) -> Result<Vec<usize>, String> {
    let mut chosen = vec![false; TLS12_SUITES.len()];
    let mut banned = vec![false; TLS12_SUITES.len()];
    let mut any = false;
    for raw in s
        .split([':', ',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        any = true;
        let (remove, body) = match raw.as_bytes()[0] {
            b'!' | b'-' => (true, &raw[1..]),
            b'+' => continue, // OpenSSL: move to the end; order is ours.
            _ => (false, raw),
        };
        if body.starts_with('@') {
            continue; // @STRENGTH, @SECLEVEL=n
        }
        // A+B: the suites in every class.
        let mut set: Option<Vec<usize>> = None;
        for part in body.split('+') {
            let c = class(part).unwrap_or_default();
            set = Some(match set {
                None => c,
                Some(prev) => prev.into_iter().filter(|i| c.contains(i)).collect(),
            });
        }
        for i in set.unwrap_or_default() {
            if remove {
                banned[i] = true;
            } else {
                chosen[i] = true;
            }
        }
    }
    if !any {
        return Err("empty cipher list".to_string());
    }
    let left: Vec<usize> = (0..TLS12_SUITES.len())
        .filter(|i| chosen[*i] && !banned[*i])
        .collect();
    if left.is_empty() {
        let ours: Vec<&str> = TLS12_SUITES.iter().map(|s| s.openssl).collect();
        return Err(format!(
            "'{s}' leaves no TLS 1.2 cipher this server offers ({})",
            ours.join(", ")
        ));
    }
    Ok(left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_as_libtls_reads_them() {
        let v = |tls12, tls13| TlsVersions { tls12, tls13 };
        assert_eq!(parse_protocols("secure"), Ok(v(true, true)));
        assert_eq!(parse_protocols("tlsv1.3"), Ok(v(false, true)));
        assert_eq!(parse_protocols("all,!tlsv1.3"), Ok(v(true, false)));
        assert_eq!(parse_protocols("tlsv1.1, tlsv1.2"), Ok(v(true, false)));
        assert_eq!(parse_protocols("TLSv1.2:TLSv1.3"), Ok(v(true, true)));
        assert!(parse_protocols("tlsv1.0")
            .unwrap_err()
            .contains("leaves no protocol"));
        assert!(parse_protocols("sslv3")
            .unwrap_err()
            .contains("unknown protocol 'sslv3'"));
        assert!(parse_protocols(" ").is_err());
    }

    #[test]
    fn ciphers_as_openssl_lists_and_libtls_keywords() {
        let names = |r: Result<Vec<usize>, String>| -> Vec<&str> {
            r.unwrap()
                .into_iter()
                .map(|i| TLS12_SUITES[i].openssl)
                .collect()
        };
        assert_eq!(names(parse_ciphers("secure")).len(), 6);
        assert_eq!(names(parse_ciphers("HIGH:!aNULL:!MD5")).len(), 6);
        assert_eq!(
            names(parse_ciphers("ECDHE-RSA-AES256-GCM-SHA384")),
            vec!["ECDHE-RSA-AES256-GCM-SHA384"]
        );
        assert_eq!(
            names(parse_ciphers("ECDHE+CHACHA20:!ECDSA")),
            vec!["ECDHE-RSA-CHACHA20-POLY1305"]
        );
        assert_eq!(
            names(parse_ciphers(
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 AES256-SHA"
            )),
            vec!["ECDHE-ECDSA-AES128-GCM-SHA256"]
        );
        let e = parse_ciphers("AES256-SHA:DES-CBC3-SHA").unwrap_err();
        assert!(e.contains("leaves no TLS 1.2 cipher"), "{e}");
        assert!(parse_ciphers("").is_err());
    }
}
