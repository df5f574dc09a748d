//! ESMTP capabilities: the server's EHLO reply, and the client's reading of
//! a peer's EHLO reply (the relay needs SIZE, PIPELINING, 8BITMIME, DSN,
//! SMTPUTF8, CHUNKING, STARTTLS and AUTH of the next hop).

use crate::command::ParseOptions;
use crate::reply::Reply;

/// What a server offers after EHLO.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub pipelining: bool,
    pub eightbitmime: bool,
    /// `SIZE n`: the largest message accepted; `Some(0)` is written as
    /// plain `SIZE` (no fixed limit, RFC 1870).
    pub size: Option<u64>,
    pub enhanced_status_codes: bool,
    pub dsn: bool,
    pub smtputf8: bool,
    pub chunking: bool,
    /// Only before TLS is in place.
    pub starttls: bool,
    /// SASL mechanisms, upper case; empty means no AUTH line.
    pub auth: Vec<String>,
    pub help: bool,
}

impl Capabilities {
    /// Everything our server offers, with the given size limit (STARTTLS
    /// and AUTH left off: they depend on the listener and the TLS state).
    pub fn server_default(max_size: u64) -> Self {
        Capabilities {
            pipelining: true,
            eightbitmime: true,
            size: Some(max_size),
            enhanced_status_codes: true,
            dsn: true,
            smtputf8: true,
            chunking: true,
            starttls: false,
            auth: Vec::new(),
            help: true,
        }
    }

    /// The EHLO reply: `greeting` on the first line (e.g. `mx.example
    /// Hello client.example [192.0.2.1], pleased to meet you`), then one
    /// keyword per line. No enhanced status code: RFC 2034 leaves the EHLO
    /// reply without one.
    pub fn ehlo_reply(&self, greeting: &str) -> Reply {
        let mut lines = vec![greeting.to_string()];
        let mut push = |on: bool, kw: &str| {
            if on {
                lines.push(kw.to_string());
            }
        };
        push(self.pipelining, "PIPELINING");
        push(self.eightbitmime, "8BITMIME");
        match self.size {
            Some(0) => push(true, "SIZE"),
            Some(n) => push(true, &format!("SIZE {n}")),
            None => {}
        }
        push(self.enhanced_status_codes, "ENHANCEDSTATUSCODES");
        push(self.dsn, "DSN");
        push(self.smtputf8, "SMTPUTF8");
        push(self.chunking, "CHUNKING");
        push(self.starttls, "STARTTLS");
        if !self.auth.is_empty() {
            push(true, &format!("AUTH {}", self.auth.join(" ")));
        }
        push(self.help, "HELP");
        Reply::multiline(250, None, lines)
    }

    /// Read a peer's EHLO reply (client side). Unknown keywords are
    /// ignored; `AUTH=` (the pre-RFC 4954 form some servers still send) is
    /// read like `AUTH`. A non-2xx reply offers nothing.
    pub fn from_ehlo_reply(reply: &Reply) -> Self {
        let mut caps = Capabilities::default();
        if !reply.is_positive() {
            return caps;
        }
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split([' ', '=']).filter(|w| !w.is_empty());
            let Some(kw) = words.next() else { continue };
            match kw.to_ascii_uppercase().as_str() {
                "PIPELINING" => caps.pipelining = true,
                "8BITMIME" => caps.eightbitmime = true,
                "SIZE" => caps.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0)),
                "ENHANCEDSTATUSCODES" => caps.enhanced_status_codes = true,
                "DSN" => caps.dsn = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "CHUNKING" => caps.chunking = true,
                "STARTTLS" => caps.starttls = true,
                "AUTH" => {
                    for m in words {
                        let m = m.to_ascii_uppercase();
                        if !caps.auth.contains(&m) {
                            caps.auth.push(m);
                        }
                    }
                }
                "HELP" => caps.help = true,
                _ => {}
            }
        }
        caps
    }

    /// Parser options matching what this capability set offers, for a
    /// session outside a transaction.
    pub fn parse_options(&self) -> ParseOptions {
        ParseOptions {
            dsn: self.dsn,
            smtputf8: self.smtputf8,
            chunking: self.chunking,
            ..ParseOptions::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ehlo_reply_lists_every_capability_in_order() {
        let mut caps = Capabilities::server_default(36_700_160);
        caps.starttls = true;
        caps.auth = vec!["PLAIN".into(), "LOGIN".into()];
        let wire =
            String::from_utf8(caps.ehlo_reply("mx.example Hello c [192.0.2.1]").to_wire()).unwrap();
        assert_eq!(
            wire,
            "250-mx.example Hello c [192.0.2.1]\r\n250-PIPELINING\r\n250-8BITMIME\r\n\
             250-SIZE 36700160\r\n250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250-SMTPUTF8\r\n\
             250-CHUNKING\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250 HELP\r\n"
        );
        assert_eq!(Capabilities::from_ehlo_reply(&caps.ehlo_reply("x")), caps);
    }

    #[test]
    fn reads_old_auth_form_and_bare_size() {
        let r = Reply::multiline(
            250,
            None,
            vec![
                "x".into(),
                "AUTH=LOGIN".into(),
                "auth plain login".into(),
                "SIZE".into(),
                "XFOO".into(),
            ],
        );
        let c = Capabilities::from_ehlo_reply(&r);
        assert_eq!(c.auth, vec!["LOGIN".to_string(), "PLAIN".to_string()]);
        assert_eq!(c.size, Some(0));
        assert!(!c.pipelining);
        let minimal = Capabilities::default().ehlo_reply("x");
        assert_eq!(minimal.to_wire(), b"250 x\r\n");
    }
}
