//! Relay URLs: `[proto://[label@]]host[:port]`, in today's schemes and the
//! old ones (`tls://`, `smtps+auth://`, `secure://` …).

use serde::{Deserialize, Serialize};

/// Which protocol the relay speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RelayProto {
    Smtp,
    Lmtp,
}

/// How TLS is used towards the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RelayTlsMode {
    /// STARTTLS if offered, plaintext otherwise (`smtp://`, no scheme).
    Opportunistic,
    /// Never TLS (`smtp+notls://`, `lmtp://`).
    NoTls,
    /// Mandatory STARTTLS (`smtp+tls://`; old `tls://`).
    StartTls,
    /// Implicit TLS, port 465 by default (`smtps://`).
    Smtps,
    /// Old `secure://` / `ssl://`: SMTPS, falling back to STARTTLS.
    SmtpsOrStartTls,
}

/// A parsed relay URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayUrl {
    pub proto: RelayProto,
    pub tls: RelayTlsMode,
    /// The scheme itself demanded authentication (old `…+auth://`).
    pub auth: bool,
    /// Credentials label (`label@host`), looked up in the `auth` table.
    pub label: Option<String>,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    pub port: Option<u16>,
}

/// Why a relay URL was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RelayUrlError {
    #[error("unknown relay URL scheme \"{0}\"")]
    Scheme(String),
    #[error("relay URL has no host")]
    NoHost,
    #[error("invalid port \"{0}\" in relay URL")]
    Port(String),
    #[error("an IPv6 address in a relay URL must be written in brackets")]
    Ipv6Brackets,
    #[error("invalid character {0:?} in relay host")]
    HostChar(char),
    #[error("an lmtp:// relay needs an explicit port")]
    LmtpPort,
}

impl RelayUrl {
    /// Parse with today's meaning of the schemes (6.4+). The old schemes are
    /// accepted too, with their old meaning, since they are unambiguous.
    pub fn parse(s: &str) -> Result<Self, RelayUrlError> {
        Self::parse_with(s, false)
    }

    /// Parse with the meaning the 5.x/6.0 releases gave the schemes; the one
    /// difference is `smtp+tls://`, which then meant "TLS if offered".
    pub fn parse_old(s: &str) -> Result<Self, RelayUrlError> {
        Self::parse_with(s, true)
    }

    fn parse_with(s: &str, old: bool) -> Result<Self, RelayUrlError> {
        use RelayTlsMode::*;
        let (scheme, rest) = match s.find("://") {
            Some(i) => (s[..i].to_ascii_lowercase(), &s[i + 3..]),
            None => ("smtp".to_string(), s),
        };
        let (proto, tls, auth) = match scheme.as_str() {
            "smtp" => (RelayProto::Smtp, Opportunistic, false),
            "smtp+tls" if old => (RelayProto::Smtp, Opportunistic, false),
            "smtp+tls" => (RelayProto::Smtp, StartTls, false),
            "smtp+notls" => (RelayProto::Smtp, NoTls, false),
            "smtps" => (RelayProto::Smtp, Smtps, false),
            "lmtp" | "lmtp+notls" => (RelayProto::Lmtp, NoTls, false),
            "lmtp+tls" => (RelayProto::Lmtp, StartTls, false),
            "tls" => (RelayProto::Smtp, StartTls, false),
            "tls+auth" => (RelayProto::Smtp, StartTls, true),
            "smtps+auth" => (RelayProto::Smtp, Smtps, true),
            "ssl" | "secure" => (RelayProto::Smtp, SmtpsOrStartTls, false),
            "ssl+auth" | "secure+auth" => (RelayProto::Smtp, SmtpsOrStartTls, true),
            _ => return Err(RelayUrlError::Scheme(scheme)),
        };
        let (label, hostport) = match rest.find('@') {
            Some(i) => (Some(rest[..i].to_string()), &rest[i + 1..]),
            None => (None, rest),
        };
        let (host, port) = split_host_port(hostport)?;
        if host.is_empty() {
            return Err(RelayUrlError::NoHost);
        }
        if let Some(c) = host
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || "/@[]<>{}\"'\\".contains(*c))
        {
            return Err(RelayUrlError::HostChar(c));
        }
        if proto == RelayProto::Lmtp && port.is_none() {
            return Err(RelayUrlError::LmtpPort);
        }
        Ok(RelayUrl {
            proto,
            tls,
            auth,
            label: label.filter(|l| !l.is_empty()),
            host,
            port,
        })
    }

    /// The port used when none is written: 465 for SMTPS, else 25.
    pub fn effective_port(&self) -> u16 {
        match (self.port, self.tls) {
            (Some(p), _) => p,
            (None, RelayTlsMode::Smtps | RelayTlsMode::SmtpsOrStartTls) => 465,
            (None, _) => 25,
        }
    }

    /// The scheme in today's spelling (`secure://` has none; it is kept).
    pub fn scheme(&self) -> &'static str {
        match (self.proto, self.tls) {
            (RelayProto::Lmtp, RelayTlsMode::StartTls) => "lmtp+tls",
            (RelayProto::Lmtp, _) => "lmtp",
            (RelayProto::Smtp, RelayTlsMode::Opportunistic) => "smtp",
            (RelayProto::Smtp, RelayTlsMode::NoTls) => "smtp+notls",
            (RelayProto::Smtp, RelayTlsMode::StartTls) => "smtp+tls",
            (RelayProto::Smtp, RelayTlsMode::Smtps) => "smtps",
            (RelayProto::Smtp, RelayTlsMode::SmtpsOrStartTls) => "secure",
        }
    }
}

/// Prints the URL in today's syntax (`secure://` stays as is: it has no
/// equivalent; the `+auth` of old schemes is implied by `auth <t>`).
impl std::fmt::Display for RelayUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://", self.scheme())?;
        if let Some(l) = &self.label {
            write!(f, "{l}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            write!(f, "{}", self.host)?;
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

fn split_host_port(s: &str) -> Result<(String, Option<u16>), RelayUrlError> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']').ok_or(RelayUrlError::Ipv6Brackets)?;
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(RelayUrlError::Port(after.to_string())),
        };
        (rest[..end].to_string(), port)
    } else {
        match s.matches(':').count() {
            0 => (s.to_string(), None),
            1 => {
                let i = s.find(':').unwrap_or(s.len());
                (s[..i].to_string(), Some(&s[i + 1..]))
            }
            _ => return Err(RelayUrlError::Ipv6Brackets),
        }
    };
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => return Err(RelayUrlError::Port(p.to_string())),
        },
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        let u = RelayUrl::parse("smtp+tls://bob@smtp.example.com:587").unwrap();
        assert_eq!(
            u,
            RelayUrl {
                proto: RelayProto::Smtp,
                tls: RelayTlsMode::StartTls,
                auth: false,
                label: Some("bob".into()),
                host: "smtp.example.com".into(),
                port: Some(587),
            }
        );
        assert_eq!(u.to_string(), "smtp+tls://bob@smtp.example.com:587");
        let cases = [
            ("mx.example.com", RelayTlsMode::Opportunistic, 25),
            ("smtp://mx", RelayTlsMode::Opportunistic, 25),
            ("smtp+notls://mx", RelayTlsMode::NoTls, 25),
            ("smtps://mx", RelayTlsMode::Smtps, 465),
            ("tls://mx", RelayTlsMode::StartTls, 25),
            ("ssl://mx", RelayTlsMode::SmtpsOrStartTls, 465),
            ("secure://mx:587", RelayTlsMode::SmtpsOrStartTls, 587),
        ];
        for (s, tls, port) in cases {
            let u = RelayUrl::parse(s).unwrap();
            assert_eq!((u.tls, u.effective_port()), (tls, port), "{s}");
        }
        assert!(RelayUrl::parse("tls+auth://l@mx").unwrap().auth);
        assert!(RelayUrl::parse("smtps+auth://l@mx").unwrap().auth);
        assert!(RelayUrl::parse("secure+auth://l@mx").unwrap().auth);
        let l = RelayUrl::parse("lmtp://127.0.0.1:24").unwrap();
        assert_eq!((l.proto, l.tls), (RelayProto::Lmtp, RelayTlsMode::NoTls));
        // The one scheme whose meaning changed.
        assert_eq!(
            RelayUrl::parse_old("smtp+tls://mx").unwrap().tls,
            RelayTlsMode::Opportunistic
        );
        let v6 = RelayUrl::parse("smtp://[2001:db8::1]:2525").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("2001:db8::1", Some(2525)));
        assert_eq!(v6.to_string(), "smtp://[2001:db8::1]:2525");
    }

    #[test]
    fn errors() {
        assert_eq!(
            RelayUrl::parse("gopher://x"),
            Err(RelayUrlError::Scheme("gopher".into()))
        );
        assert_eq!(RelayUrl::parse("smtp://"), Err(RelayUrlError::NoHost));
        assert_eq!(
            RelayUrl::parse("smtp://h:0"),
            Err(RelayUrlError::Port("0".into()))
        );
        assert_eq!(
            RelayUrl::parse("smtp://h:x"),
            Err(RelayUrlError::Port("x".into()))
        );
        assert_eq!(
            RelayUrl::parse("smtp://2001:db8::1"),
            Err(RelayUrlError::Ipv6Brackets)
        );
        assert_eq!(RelayUrl::parse("lmtp://h"), Err(RelayUrlError::LmtpPort));
        assert_eq!(
            RelayUrl::parse("smtp://a b"),
            Err(RelayUrlError::HostChar(' '))
        );
    }
}
