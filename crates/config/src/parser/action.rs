//! `action NAME METHOD [options] [ttl DELAY]` (today's grammar).

use crate::lexer::{Pos, Tok};
use crate::model::{
    Action, ActionOrigin, LocalDelivery, LocalKind, Mapping, Method, Relay, RelayTls, RelayUrl,
    TableSource, UseSite,
};

use super::{Dialect, PResult, Parser};

impl Parser {
    pub(super) fn action(&mut self) -> PResult<()> {
        let kw = self.bump();
        self.dialect = Dialect::Modern;
        let (name, npos) = self.string("an action name")?;
        self.check_user_name(&name, &npos, "action")?;
        if self.b.cfg.action(&name).is_some() {
            return self.fail(
                &npos,
                format!("dispatcher already declared with that name: {name}"),
            );
        }
        let method = if self.eat("relay") {
            Method::Relay(self.relay_options()?)
        } else {
            Method::Local(self.local_method()?)
        };
        let ttl = if self.eat("ttl") {
            Some(self.delay("ttl")?)
        } else {
            None
        };
        if !self.at_eol() {
            return if ttl.is_some() {
                self.unexpected("end of line (ttl must be the last option of an action)")
            } else {
                self.unexpected("an action option")
            };
        }
        self.end()?;
        self.b.cfg.actions.push(Action {
            name,
            method,
            ttl,
            origin: ActionOrigin::Declared,
            span: kw.pos.span(),
        });
        Ok(())
    }

    /// Does a string operand (not an option keyword) come next?
    pub(super) fn at_string(&mut self) -> bool {
        let reserved = self.at_keyword();
        matches!(&self.peek().tok, Tok::Word { text, quoted }
            if *quoted || !(reserved || super::is_number(text)))
    }

    fn local_method(&mut self) -> PResult<LocalDelivery> {
        let kind = if self.eat("mbox") {
            LocalKind::Mbox
        } else if self.eat("maildir") {
            let mut junk = self.eat("junk");
            let path = if !junk && self.at_string() {
                let p = self.string("a maildir path")?.0;
                junk = self.eat("junk");
                Some(p)
            } else {
                None
            };
            LocalKind::Maildir { path, junk }
        } else if self.eat("lmtp") {
            let dest = self
                .string("an LMTP destination (host:port or socket path)")?
                .0;
            LocalKind::Lmtp {
                dest,
                rcpt_to: self.eat("rcpt-to"),
            }
        } else if self.eat("mda") {
            LocalKind::Mda {
                command: self.string("a command")?.0,
            }
        } else if self.eat("forward-only") {
            LocalKind::ForwardOnly
        } else if self.eat("expand-only") {
            LocalKind::ExpandOnly
        } else {
            return self.unexpected(
                "a delivery method (mbox, maildir, lmtp, mda, forward-only, expand-only or relay)",
            );
        };
        let mut d = LocalDelivery::new(kind);
        loop {
            let pos = self.pos();
            if self.eat("user") {
                let why = match d.kind {
                    LocalKind::Mbox => Some("user may not be specified for this dispatcher"),
                    LocalKind::ForwardOnly => Some("user may not be specified for forward-only"),
                    LocalKind::ExpandOnly => Some("user may not be specified for expand-only"),
                    _ if d.user.is_some() => Some("user already specified for this dispatcher"),
                    _ => None,
                };
                if let Some(why) = why {
                    return self.fail(&pos, why);
                }
                d.user = Some(self.string("a user name")?.0);
            } else if self.at("alias") || self.at("virtual") {
                let alias = self.at("alias");
                self.bump();
                if let Some(m) = &d.mapping {
                    let what = if matches!(m, Mapping::Alias(_)) {
                        "alias"
                    } else {
                        "virtual"
                    };
                    return self.fail(
                        &pos,
                        format!("{what} mapping already specified for this dispatcher"),
                    );
                }
                d.mapping = Some(if alias {
                    Mapping::Alias(self.table_ref(UseSite::Alias, false)?)
                } else {
                    Mapping::Virtual(self.table_ref(UseSite::Virtual, false)?)
                });
            } else if self.eat("userbase") {
                if d.userbase.is_some() {
                    return self.fail(
                        &pos,
                        "userbase mapping already specified for this dispatcher",
                    );
                }
                d.userbase = Some(self.table_ref(UseSite::Userbase, false)?);
            } else if self.eat("wrapper") {
                let (w, wpos) = self.string("a wrapper name")?;
                if !self.b.cfg.mda.wrappers.iter().any(|x| x.name == w) {
                    return self.fail(&wpos, format!("no mda wrapper with that name: {w}"));
                }
                d.wrapper = Some(w);
            } else {
                return Ok(d);
            }
        }
    }

    fn relay_options(&mut self) -> PResult<Relay> {
        let mut r = Relay::default();
        loop {
            let pos = self.pos();
            let dup = |set: bool, what: &str| {
                set.then(|| format!("{what} already specified for this dispatcher"))
            };
            let err = if self.eat("helo") {
                let e = dup(r.helo.is_some(), "helo");
                r.helo = Some(self.string("a HELO name")?.0);
                e
            } else if self.eat("helo-src") {
                let e = dup(r.helo_src.is_some(), "helo-source mapping");
                r.helo_src = Some(self.table_ref(UseSite::HeloSrc, false)?);
                e
            } else if self.eat("pki") {
                let e = dup(r.pki.is_some(), "pki");
                r.pki = Some(self.string("a pki name")?.0.to_ascii_lowercase());
                e
            } else if self.eat("ca") {
                let e = dup(r.ca.is_some(), "ca");
                r.ca = Some(self.string("a ca name")?.0.to_ascii_lowercase());
                e
            } else if self.eat("ciphers") {
                let e = dup(r.ciphers.is_some(), "ciphers");
                r.ciphers = Some(self.cipher_list()?);
                e
            } else if self.eat("protocols") {
                let e = dup(r.protocols.is_some(), "protocols");
                r.protocols = Some(self.protocol_list()?);
                e
            } else if self.eat("src") {
                let e = dup(r.src.is_some(), "source mapping");
                r.src = Some(self.table_ref(UseSite::RelaySrc, false)?);
                e
            } else if self.eat("mail-from") {
                let e = dup(r.mail_from.is_some(), "mail-from");
                r.mail_from = Some(self.string("an address")?.0);
                e
            } else if self.eat("backup") {
                let mx = if self.eat("mx") {
                    Some(self.string("a host name")?.0)
                } else {
                    None
                };
                let e = dup(r.backup.is_some(), "backup").or_else(|| {
                    (r.host.is_some() || r.domain.is_some())
                        .then(|| "backup and host are mutually exclusive".to_string())
                });
                r.backup = Some(mx);
                e
            } else if self.at("host") || self.at("domain") {
                let host = self.at("host");
                self.bump();
                let e = dup(r.host.is_some() || r.domain.is_some(), "host mapping").or_else(|| {
                    r.backup
                        .is_some()
                        .then(|| "backup and host are mutually exclusive".to_string())
                });
                let tpos = self.pos();
                if host {
                    let t = self.table_ref(UseSite::RelayHost, false)?;
                    self.check_relay_urls(&t, &tpos)?;
                    r.host = Some(t);
                } else {
                    let t = self.table_ref(UseSite::RelayDomain, false)?;
                    self.check_relay_urls(&t, &tpos)?;
                    r.domain = Some(t);
                }
                e
            } else if self.eat("tls") {
                let verify = !self.eat("no-verify");
                let e = dup(r.tls.is_some(), "tls");
                r.tls = Some(RelayTls { verify });
                e
            } else if self.eat("auth") {
                let e = if r.host.is_none() {
                    Some("auth may not be specified without host on a dispatcher".to_string())
                } else {
                    dup(r.auth.is_some(), "auth mapping")
                };
                r.auth = Some(self.table_ref(UseSite::RelayAuth, false)?);
                e
            } else if self.eat("filter") {
                let e = dup(r.filter.is_some(), "filter");
                r.filter = Some(self.filter_ref()?);
                e
            } else if self.eat("srs") {
                let e = if self.b.cfg.srs.key.is_none() {
                    Some("an srs key is required for srs to be specified in an action".to_string())
                } else {
                    dup(r.srs, "srs")
                };
                r.srs = true;
                e
            } else {
                return Ok(r);
            };
            if let Some(e) = err {
                return self.fail(&pos, e);
            }
        }
    }

    /// Every URL an inline or literal host/domain table holds must parse.
    pub(super) fn check_relay_urls(&mut self, table: &str, pos: &Pos) -> PResult<()> {
        let urls: Vec<String> = match self.b.cfg.table(table).map(|t| &t.source) {
            Some(TableSource::List(v)) => v.clone(),
            Some(TableSource::Map(m)) => m.iter().map(|(_, v)| v.clone()).collect(),
            _ => return Ok(()),
        };
        for u in urls {
            if let Err(e) = RelayUrl::parse(&u) {
                return self.fail(pos, format!("invalid relay URL \"{u}\": {e}"));
            }
        }
        Ok(())
    }
}
