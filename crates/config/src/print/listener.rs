//! `listen on …` and `action …` lines.

use std::fmt::Write;

use crate::model::{
    Family, ListenOn, Listener, ListenerTls, LocalKind, Mapping, Method, Relay, RelayTlsMode,
    RelayUrl, TableSource,
};
use crate::units::format_delay;

use super::{quote, word, Printer};

impl Printer<'_> {
    pub(super) fn listeners(&mut self) {
        self.section();
        for l in &self.cfg.listeners {
            let s = self.listener(l);
            self.line(s);
        }
    }

    fn listener(&self, l: &Listener) -> String {
        let mut s = String::from("listen on ");
        match &l.on {
            ListenOn::Socket => s.push_str("socket"),
            ListenOn::Localhost => s.push_str("localhost"),
            ListenOn::All => s.push_str("all"),
            ListenOn::Addr(ip) => s.push_str(&word(&ip.to_string())),
            ListenOn::Name(n) => s.push_str(&word(n)),
        }
        match l.family {
            Some(Family::Inet4) => s.push_str(" inet4"),
            Some(Family::Inet6) => s.push_str(" inet6"),
            None => {}
        }
        let default_port = match l.tls {
            ListenerTls::Smtps { .. } => 465,
            _ => 25,
        };
        if l.on != ListenOn::Socket && l.port != default_port {
            let _ = write!(s, " port {}", l.port);
        }
        match l.tls {
            ListenerTls::Plain => {}
            ListenerTls::StartTls {
                required: false, ..
            } => s.push_str(" tls"),
            ListenerTls::StartTls {
                required: true,
                verify,
            } => s.push_str(if verify {
                " tls-require verify"
            } else {
                " tls-require"
            }),
            ListenerTls::Smtps { verify } => {
                s.push_str(if verify { " smtps verify" } else { " smtps" })
            }
        }
        for p in &l.pki {
            let _ = write!(s, " pki {}", word(p));
        }
        if let Some(c) = &l.ca {
            let _ = write!(s, " ca {}", word(c));
        }
        if let Some(a) = &l.auth {
            s.push_str(if a.required {
                " auth"
            } else {
                " auth-optional"
            });
            if let Some(t) = &a.table {
                let _ = write!(s, " {}", self.table(t));
            }
        }
        if let Some(se) = &l.senders {
            let _ = write!(s, " senders {}", self.table(&se.table));
            if se.masquerade {
                s.push_str(" masquerade");
            }
        }
        if let Some(t) = &l.tag {
            let _ = write!(s, " tag {}", word(t));
        }
        if let Some(h) = &l.hostname {
            let _ = write!(s, " hostname {}", word(h));
        }
        if let Some(t) = &l.hostnames {
            let _ = write!(s, " hostnames {}", self.table(t));
        }
        for (on, kw) in [
            (l.mask_src, " mask-src"),
            (l.received_auth, " received-auth"),
            (l.no_dsn, " no-dsn"),
            (l.proxy_v2, " proxy-v2"),
        ] {
            if on {
                s.push_str(kw);
            }
        }
        if let Some(f) = &l.filter {
            let _ = write!(s, " filter {}", self.filter_ref(f));
        }
        if let Some(p) = &l.protocols {
            let _ = write!(s, " protocols {}", quote(p));
        }
        if let Some(c) = &l.ciphers {
            let _ = write!(s, " ciphers {}", quote(c));
        }
        s
    }

    pub(super) fn actions(&mut self) {
        self.section();
        for a in &self.cfg.actions {
            let mut s = format!("action {} ", word(&a.name));
            match &a.method {
                Method::Local(d) => {
                    s.push_str(&match &d.kind {
                        LocalKind::Mbox => "mbox".to_string(),
                        LocalKind::Maildir { path, junk } => {
                            let mut m = "maildir".to_string();
                            if let Some(p) = path {
                                let _ = write!(m, " {}", quote(p));
                            }
                            if *junk {
                                m.push_str(" junk");
                            }
                            m
                        }
                        LocalKind::Lmtp { dest, rcpt_to } => {
                            format!(
                                "lmtp {}{}",
                                quote(dest),
                                if *rcpt_to { " rcpt-to" } else { "" }
                            )
                        }
                        LocalKind::Mda { command } => format!("mda {}", quote(command)),
                        LocalKind::ForwardOnly => "forward-only".to_string(),
                        LocalKind::ExpandOnly => "expand-only".to_string(),
                    });
                    match &d.mapping {
                        Some(Mapping::Alias(t)) => {
                            let _ = write!(s, " alias {}", self.table(t));
                        }
                        Some(Mapping::Virtual(t)) => {
                            let _ = write!(s, " virtual {}", self.table(t));
                        }
                        None => {}
                    }
                    if let Some(t) = &d.userbase {
                        let _ = write!(s, " userbase {}", self.table(t));
                    }
                    if let Some(u) = &d.user {
                        let _ = write!(s, " user {}", word(u));
                    }
                    if let Some(w) = &d.wrapper {
                        let _ = write!(s, " wrapper {}", word(w));
                    }
                }
                Method::Relay(r) => {
                    if self.has_secure_url(r) {
                        self.line(
                            "# secure:// (SMTPS falling back to STARTTLS, 5.x) has no \
                             equivalent today: smtps:// or smtp+tls:// would replace it",
                        );
                    }
                    s.push_str("relay");
                    s.push_str(&self.relay(r));
                }
            }
            if let Some(t) = a.ttl {
                let _ = write!(s, " ttl {}", format_delay(t));
            }
            self.line(s);
        }
    }

    fn has_secure_url(&self, r: &Relay) -> bool {
        let Some(t) = r.host.as_deref().and_then(|h| self.cfg.table(h)) else {
            return false;
        };
        match &t.source {
            TableSource::List(v) => v
                .iter()
                .any(|u| RelayUrl::parse(u).is_ok_and(|u| u.tls == RelayTlsMode::SmtpsOrStartTls)),
            _ => false,
        }
    }

    fn relay(&self, r: &Relay) -> String {
        let mut s = String::new();
        if let Some(t) = &r.host {
            let _ = write!(s, " host {}", self.table(t));
        }
        if let Some(t) = &r.domain {
            let _ = write!(s, " domain {}", self.table(t));
        }
        match &r.backup {
            Some(Some(mx)) => {
                let _ = write!(s, " backup mx {}", word(mx));
            }
            Some(None) => s.push_str(" backup"),
            None => {}
        }
        if let Some(h) = &r.helo {
            let _ = write!(s, " helo {}", word(h));
        }
        if let Some(t) = &r.helo_src {
            let _ = write!(s, " helo-src {}", self.table(t));
        }
        if let Some(t) = &r.src {
            let _ = write!(s, " src {}", self.table(t));
        }
        if let Some(p) = &r.pki {
            let _ = write!(s, " pki {}", word(p));
        }
        if let Some(c) = &r.ca {
            let _ = write!(s, " ca {}", word(c));
        }
        match r.tls {
            Some(t) if t.verify => s.push_str(" tls"),
            Some(_) => s.push_str(" tls no-verify"),
            None => {}
        }
        if let Some(p) = &r.protocols {
            let _ = write!(s, " protocols {}", quote(p));
        }
        if let Some(c) = &r.ciphers {
            let _ = write!(s, " ciphers {}", quote(c));
        }
        if let Some(t) = &r.auth {
            let _ = write!(s, " auth {}", self.table(t));
        }
        if let Some(m) = &r.mail_from {
            let _ = write!(s, " mail-from {}", quote(m));
        }
        if r.srs {
            s.push_str(" srs");
        }
        if let Some(f) = &r.filter {
            let _ = write!(s, " filter {}", self.filter_ref(f));
        }
        s
    }
}
