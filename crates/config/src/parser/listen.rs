//! `listen on …`, today's options and the old ones (`secure`/`ssl`,
//! `certificate NAME`, `mask-source`).

use std::collections::HashSet;
use std::net::IpAddr;

use crate::check::statics::{listen_target, port_by_name};
use crate::lexer::{Pos, Tok};
use crate::model::{Family, ListenOn, Listener, ListenerAuth, ListenerTls, Senders, UseSite};

use super::{is_number, PResult, Parser, Stop};

/// Per-statement state the checks at the end need.
#[derive(Default)]
struct Seen {
    options: HashSet<&'static str>,
    port: Option<u16>,
    /// Old `secure`/`ssl`: STARTTLS on 25 and SMTPS on 465.
    secure: bool,
    /// `pki NAME` references (the old `certificate NAME` names a file).
    pki_refs: Vec<(String, Pos)>,
    ca_ref: Option<(String, Pos)>,
}

const OPTIONS: &[&str] = &[
    "inet4",
    "inet6",
    "port",
    "tls",
    "tls-require",
    "smtps",
    "secure",
    "ssl",
    "pki",
    "certificate",
    "ca",
    "auth",
    "auth-optional",
    "tag",
    "hostname",
    "hostnames",
    "mask-src",
    "mask-source",
    "received-auth",
    "no-dsn",
    "proxy-v2",
    "senders",
    "filter",
    "protocols",
    "ciphers",
];

const SOCKET_OPTIONS: &[&str] = &["filter", "mask-src", "mask-source", "no-dsn", "tag"];

impl Parser {
    pub(super) fn listen(&mut self) -> PResult<()> {
        let kw = self.bump();
        self.expect_kw("on")?;
        if self.eat("socket") {
            return self.socket_listener(&kw.pos);
        }
        let on = if self.eat("any") {
            ListenOn::All
        } else {
            let (w, wpos) = self.string("an interface, address or host name")?;
            match listen_target(&w) {
                Ok(on) => on,
                Err(e) => return self.fail(&wpos, e),
            }
        };
        let mut l = Listener::new(on, kw.pos.span());
        let mut seen = Seen::default();
        while !self.at_eol() {
            self.listen_option(&mut l, &mut seen, OPTIONS, "a listen option")?;
        }
        self.end()?;
        self.finish_listener(l, seen, &kw.pos)
    }

    fn socket_listener(&mut self, at: &Pos) -> PResult<()> {
        let mut l = Listener::default_socket();
        l.span = at.span();
        let mut seen = Seen::default();
        while !self.at_eol() {
            self.listen_option(
                &mut l,
                &mut seen,
                SOCKET_OPTIONS,
                "a socket listener option (filter, mask-src, no-dsn or tag)",
            )?;
        }
        self.end()?;
        if self.b.socket_listener {
            return self.fail(at, "socket listener already configured");
        }
        self.b.socket_listener = true;
        self.b.cfg.listeners.push(l);
        Ok(())
    }

    /// Mark option `key` as given; an error if it already was.
    fn once(&mut self, seen: &mut Seen, key: &'static str, pos: &Pos) -> PResult<()> {
        if !seen.options.insert(key) {
            return self.fail(pos, format!("{key} already specified"));
        }
        Ok(())
    }

    fn listen_option(
        &mut self,
        l: &mut Listener,
        seen: &mut Seen,
        allowed: &[&str],
        expected: &str,
    ) -> PResult<()> {
        let kw = match &self.peek().tok {
            Tok::Word {
                text,
                quoted: false,
            } if allowed.contains(&text.as_str()) => text.clone(),
            _ => return self.unexpected(expected),
        };
        let pos = self.bump().pos;
        match kw.as_str() {
            "inet4" | "inet6" => {
                self.once(seen, "address family", &pos)?;
                l.family = Some(if kw == "inet4" {
                    Family::Inet4
                } else {
                    Family::Inet6
                });
            }
            "port" => {
                self.once(seen, "port", &pos)?;
                seen.port = Some(self.port()?);
            }
            "tls" | "tls-require" | "smtps" | "secure" | "ssl" => {
                self.once(seen, "TLS mode", &pos)?;
                let verify =
                    kw != "tls" && !matches!(kw.as_str(), "secure" | "ssl") && self.eat("verify");
                l.tls = match kw.as_str() {
                    "smtps" => ListenerTls::Smtps { verify },
                    "tls-require" => ListenerTls::StartTls {
                        required: true,
                        verify,
                    },
                    _ => ListenerTls::StartTls {
                        required: false,
                        verify: false,
                    },
                };
                seen.secure = matches!(kw.as_str(), "secure" | "ssl");
            }
            "pki" | "certificate" => {
                let (name, npos) = self.string("a pki name")?;
                let name = name.to_ascii_lowercase();
                if kw == "pki" {
                    seen.pki_refs.push((name.clone(), npos));
                }
                if !l.pki.contains(&name) {
                    l.pki.push(name);
                }
            }
            "ca" => {
                self.once(seen, "ca", &pos)?;
                let (name, npos) = self.string("a ca name")?;
                let name = name.to_ascii_lowercase();
                seen.ca_ref = Some((name.clone(), npos));
                l.ca = Some(name);
            }
            "auth" | "auth-optional" => {
                self.once(seen, "auth", &pos)?;
                let table = if self.at_table() {
                    Some(self.table_ref(UseSite::ListenerAuth, false)?)
                } else {
                    None
                };
                l.auth = Some(ListenerAuth {
                    required: kw == "auth",
                    table,
                });
            }
            "tag" => {
                self.once(seen, "tag", &pos)?;
                let (tag, tpos) = self.string("a tag")?;
                if tag.len() >= 32 {
                    return self.fail(&tpos, "tag name too long (at most 31 characters)");
                }
                l.tag = Some(tag);
            }
            "hostname" => {
                self.once(seen, "hostname", &pos)?;
                l.hostname = Some(self.string("a host name")?.0);
            }
            "hostnames" => {
                self.once(seen, "hostnames", &pos)?;
                l.hostnames = Some(self.table_ref(UseSite::Hostnames, false)?);
            }
            "mask-src" | "mask-source" => {
                self.once(seen, "mask-source", &pos)?;
                l.mask_src = true;
            }
            "received-auth" => {
                self.once(seen, "received-auth", &pos)?;
                l.received_auth = true;
            }
            "no-dsn" => {
                self.once(seen, "no-dsn", &pos)?;
                l.no_dsn = true;
            }
            "proxy-v2" => {
                self.once(seen, "proxy-v2", &pos)?;
                l.proxy_v2 = true;
            }
            "senders" => {
                self.once(seen, "senders", &pos)?;
                let table = self.table_ref(UseSite::Senders, false)?;
                let masquerade = self.eat("masquerade");
                l.senders = Some(Senders { table, masquerade });
            }
            "filter" => {
                self.once(seen, "filter", &pos)?;
                l.filter = Some(self.filter_ref()?);
            }
            "protocols" => {
                self.once(seen, "protocols", &pos)?;
                l.protocols = Some(self.protocol_list()?);
            }
            "ciphers" => {
                self.once(seen, "ciphers", &pos)?;
                l.ciphers = Some(self.cipher_list()?);
            }
            _ => return self.fail(&pos, format!("found '{kw}', expected {expected}")),
        }
        Ok(())
    }

    /// `port N|smtp|smtps|submission|…`
    pub(super) fn port(&mut self) -> PResult<u16> {
        let (w, quoted, pos) = self.word("a port number or name")?;
        let port = if !quoted && is_number(&w) {
            w.parse::<u16>().ok().filter(|p| *p > 0)
        } else {
            port_by_name(&w)
        };
        match port {
            Some(p) => Ok(p),
            None => self.fail(&pos, format!("invalid port: {w}")),
        }
    }

    fn finish_listener(&mut self, mut l: Listener, seen: Seen, at: &Pos) -> PResult<()> {
        let mut errors = Vec::new();
        if seen.secure && seen.port.is_some() {
            errors.push(
                "invalid listen option: tls/smtps on same port (secure needs two ports: \
                 drop the port, or use tls or smtps)"
                    .to_string(),
            );
        }
        if l.auth.is_some() && !l.tls.is_tls() {
            errors.push("invalid listen option: auth requires tls/smtps".to_string());
        }
        if !l.pki.is_empty() && !l.tls.is_tls() {
            errors.push("invalid listen option: pki requires tls/smtps".to_string());
        }
        if let (Some(fam), ListenOn::Addr(ip)) = (l.family, &l.on) {
            let ok = matches!(
                (fam, ip),
                (Family::Inet4, IpAddr::V4(_)) | (Family::Inet6, IpAddr::V6(_))
            );
            if !ok {
                let f = if fam == Family::Inet4 {
                    "inet4"
                } else {
                    "inet6"
                };
                errors.push(format!("listen on {ip}: not an {f} address"));
            }
        }
        let mut bad = !errors.is_empty();
        for e in errors {
            self.error(at, e);
        }
        for (name, pos) in &seen.pki_refs {
            if self.b.cfg.pki(name).is_none() {
                self.error(pos, format!("pki name not found: {name}"));
                bad = true;
            }
        }
        if let Some((name, pos)) = &seen.ca_ref {
            if self.b.cfg.ca(name).is_none() {
                self.error(pos, format!("ca name not found: {name}"));
                bad = true;
            }
        }
        if bad {
            return Err(Stop);
        }
        match (seen.port, seen.secure) {
            (Some(p), _) => {
                l.port = p;
                self.b.cfg.listeners.push(l);
            }
            (None, true) => {
                let mut smtps = l.clone();
                smtps.tls = ListenerTls::Smtps { verify: false };
                smtps.port = 465;
                l.port = 25;
                self.b.cfg.listeners.push(l);
                self.b.cfg.listeners.push(smtps);
            }
            (None, false) => {
                l.port = if matches!(l.tls, ListenerTls::Smtps { .. }) {
                    465
                } else {
                    25
                };
                self.b.cfg.listeners.push(l);
            }
        }
        Ok(())
    }
}
