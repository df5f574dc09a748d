//! Global statements: `pki`, `ca`, `queue`, `smtp`, `srs`, `mta`, `mda`,
//! `scheduler`, `bounce`, `admd`, and the old `expire`, `bounce-warn`,
//! `max-message-size`, `limit …`, `ciphers`, `curve`,
//! `subaddressing-delimiter`, `max-mta-deferred`.

use std::time::Duration;

use crate::check::statics::is_hostname;
use crate::lexer::Tok;
use crate::model::{Ca, Dhe, DomainMtaLimits, Family, MdaWrapper, Pki, QueueEncryption, QueueKey};
use crate::units::{parse_delay, parse_size};

use super::{Dialect, PResult, Parser};

impl Parser {
    /// `pki NAME (cert|certificate FILE | key FILE | dhe X | dhparams FILE)…`
    pub(super) fn pki(&mut self) -> PResult<()> {
        let kw = self.bump();
        let (name, npos) = self.string("a pki name")?;
        let mut cert = None;
        let mut key = None;
        let mut dhe = None;
        let mut dhparams = None;
        let mut ca_file = None;
        let mut modern = false;
        while !self.at_eol() {
            modern |= self.at("cert") || self.at("dhe");
            if self.eat("cert") || self.eat("certificate") {
                cert = Some(self.string("a certificate file")?.0);
            } else if self.eat("key") {
                key = Some(self.string("a key file")?.0);
            } else if self.eat("dhe") {
                let (v, vpos) = self.string("none, auto or legacy")?;
                dhe = Some(match v.to_ascii_lowercase().as_str() {
                    "none" => Dhe::None,
                    "auto" => Dhe::Auto,
                    "legacy" => Dhe::Legacy,
                    _ => return self.fail(&vpos, format!("invalid DHE keyword: {v}")),
                });
            } else if self.eat("dhparams") {
                dhparams = Some(self.string("a dhparams file")?.0);
            } else if self.eat("ca") {
                ca_file = Some(self.string("a CA file")?.0);
            } else {
                return self.unexpected("cert, key or dhe");
            }
        }
        self.end()?;
        if modern && name != "*" && !is_hostname(&name) {
            return self.fail(&npos, format!("not a valid domain name: {name}"));
        }
        let name = name.to_ascii_lowercase();
        let idx = match self.b.cfg.pkis.iter().position(|p| p.name == name) {
            Some(i) => i,
            None => {
                self.b.cfg.pkis.push(Pki {
                    name,
                    cert: None,
                    key: None,
                    dhe: None,
                    dhparams: None,
                    ca_file: None,
                    span: kw.pos.span(),
                });
                self.b.cfg.pkis.len() - 1
            }
        };
        let p = &mut self.b.cfg.pkis[idx];
        p.cert = cert.or(p.cert.take());
        p.key = key.or(p.key.take());
        p.dhe = dhe.or(p.dhe.take());
        p.dhparams = dhparams.or(p.dhparams.take());
        p.ca_file = ca_file.or(p.ca_file.take());
        Ok(())
    }

    /// `ca NAME cert|certificate FILE`
    pub(super) fn ca(&mut self) -> PResult<()> {
        let kw = self.bump();
        let (name, npos) = self.string("a ca name")?;
        let modern = self.at("cert");
        if !(self.eat("cert") || self.eat("certificate")) {
            return self.unexpected("'cert'");
        }
        let (cert, _) = self.string("a certificate file")?;
        self.end()?;
        if modern && name != "*" && !is_hostname(&name) {
            return self.fail(&npos, format!("not a valid domain name: {name}"));
        }
        let name = name.to_ascii_lowercase();
        match self.b.cfg.cas.iter_mut().find(|c| c.name == name) {
            Some(c) => c.cert = Some(cert),
            None => self.b.cfg.cas.push(Ca {
                name,
                cert: Some(cert),
                span: kw.pos.span(),
            }),
        }
        Ok(())
    }

    /// `queue compression` | `queue encryption [key] [KEY|stdin|-]` |
    /// `queue ttl DELAY`
    pub(super) fn queue(&mut self) -> PResult<()> {
        let kw = self.bump();
        if self.eat("compression") {
            self.end()?;
            self.b.cfg.queue.compression = true;
        } else if self.eat("encryption") {
            let old = self.eat("key");
            self.dialect = if old { Dialect::Old } else { Dialect::Modern };
            let key = if self.at_eol() && !old {
                QueueKey::Prompt
            } else {
                let (k, _) = self.string("an encryption key")?;
                if k.eq_ignore_ascii_case("stdin") || k == "-" {
                    QueueKey::Stdin
                } else {
                    QueueKey::Key(k)
                }
            };
            self.end()?;
            self.b.cfg.queue.encryption = Some(QueueEncryption {
                key,
                span: kw.pos.span(),
            });
        } else if self.eat("ttl") {
            self.dialect = Dialect::Modern;
            let d = self.delay("queue ttl")?;
            self.end()?;
            self.b.cfg.queue.ttl = d;
        } else {
            return self.unexpected("compression, encryption or ttl");
        }
        Ok(())
    }

    /// `smtp limit …` | `smtp ciphers S` | `smtp max-message-size SIZE` |
    /// `smtp sub-addr-delim C`
    pub(super) fn smtp(&mut self) -> PResult<()> {
        self.bump();
        self.dialect = Dialect::Modern;
        if self.eat("limit") {
            self.session_limits()?;
        } else if self.eat("ciphers") {
            self.b.cfg.smtp.ciphers = Some(self.cipher_list()?);
        } else if self.eat("max-message-size") {
            self.b.cfg.smtp.max_message_size = self.size()?;
        } else if self.eat("sub-addr-delim") {
            self.b.cfg.smtp.sub_addr_delim = self.delimiter()?;
        } else {
            return self.unexpected("limit, ciphers, max-message-size or sub-addr-delim");
        }
        self.end()
    }

    /// `max-rcpt N` / `max-mails N`, any number of times.
    fn session_limits(&mut self) -> PResult<()> {
        while !self.at_eol() {
            let (k, _, kpos) = self.word("max-rcpt or max-mails")?;
            let (n, _) = self.number("a number")?;
            match k.as_str() {
                "max-rcpt" => self.b.cfg.smtp.max_rcpt = n,
                "max-mails" => self.b.cfg.smtp.max_mails = n,
                _ => return self.fail(&kpos, format!("invalid session limit keyword: {k}")),
            }
        }
        Ok(())
    }

    fn delimiter(&mut self) -> PResult<char> {
        let (s, pos) = self.string("a delimiter character")?;
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_ascii_graphic() && c != '@' => Ok(c),
            (Some(_), None) => self.fail(&pos, "sub-addr-delim uses invalid character"),
            _ => self.fail(&pos, "subaddressing-delimiter must be one character"),
        }
    }

    /// `srs key S` | `srs key backup S` | `srs ttl DELAY`
    pub(super) fn srs(&mut self) -> PResult<()> {
        self.bump();
        self.dialect = Dialect::Modern;
        if self.eat("key") {
            if self.eat("backup") {
                self.b.cfg.srs.key_backup = Some(self.string("an SRS key")?.0);
            } else {
                self.b.cfg.srs.key = Some(self.string("an SRS key")?.0);
            }
        } else if self.eat("ttl") {
            let pos = self.pos();
            let d = self.delay("srs ttl")?;
            let days = d.as_secs() / 86_400;
            if days == 0 {
                return self.fail(&pos, "srs ttl delay is too short (at least 1d)");
            }
            self.b.cfg.srs.ttl_days = days;
        } else {
            return self.unexpected("key or ttl");
        }
        self.end()
    }

    /// `mta max-deferred N` | `mta limit [for domain D] …`
    pub(super) fn mta(&mut self) -> PResult<()> {
        self.bump();
        self.dialect = Dialect::Modern;
        if self.eat("max-deferred") {
            self.b.cfg.mta.max_deferred = self.number("a number")?.0;
        } else if self.eat("limit") {
            self.mta_limits()?;
        } else {
            return self.unexpected("max-deferred or limit");
        }
        self.end()
    }

    /// `[for domain D] (inet4|inet6|KEY N)…`; a domain's limits start as
    /// a copy of the default ones as they are now.
    fn mta_limits(&mut self) -> PResult<()> {
        let domain = if self.eat("for") {
            self.expect_kw("domain")?;
            Some(self.string("a domain")?.0)
        } else {
            None
        };
        let mta = &mut self.b.cfg.mta;
        let slot = match domain {
            None => None,
            Some(d) => Some(match mta.domain_limits.iter().position(|l| l.domain == d) {
                Some(i) => i,
                None => {
                    mta.domain_limits.push(DomainMtaLimits {
                        domain: d,
                        limits: mta.limits.clone(),
                    });
                    mta.domain_limits.len() - 1
                }
            }),
        };
        let mut l = match slot {
            None => mta.limits.clone(),
            Some(i) => mta.domain_limits[i].limits.clone(),
        };
        while !self.at_eol() {
            if self.eat("inet4") {
                l.family = Some(Family::Inet4);
            } else if self.eat("inet6") {
                l.family = Some(Family::Inet6);
            } else {
                let (k, _, kpos) = self.word("an mta limit")?;
                let (n, _) = self.number("a number")?;
                if !l.counts.set(&k, n) {
                    return self.fail(&kpos, format!("invalid mta limit keyword: {k}"));
                }
            }
        }
        let mta = &mut self.b.cfg.mta;
        match slot {
            None => mta.limits = l,
            Some(i) => mta.domain_limits[i].limits = l,
        }
        Ok(())
    }

    /// `mda limit …` | `mda wrapper NAME "cmd"`
    pub(super) fn mda(&mut self) -> PResult<()> {
        self.bump();
        self.dialect = Dialect::Modern;
        if self.eat("limit") {
            self.mda_limits()?;
        } else if self.eat("wrapper") {
            let (name, npos) = self.string("a wrapper name")?;
            let (command, _) = self.string("a command")?;
            if self.b.cfg.mda.wrappers.iter().any(|w| w.name == name) {
                return self.fail(
                    &npos,
                    format!("mda wrapper already declared with that name: {name}"),
                );
            }
            self.b.cfg.mda.wrappers.push(MdaWrapper {
                name,
                command,
                span: npos.span(),
            });
        } else {
            return self.unexpected("limit or wrapper");
        }
        self.end()
    }

    fn mda_limits(&mut self) -> PResult<()> {
        while !self.at_eol() {
            let (k, _, kpos) = self.word("an mda limit")?;
            let (n, _) = self.number("a number")?;
            if !self.b.cfg.mda.limits.set(&k, n) {
                return self.fail(&kpos, format!("invalid mda limit keyword: {k}"));
            }
        }
        Ok(())
    }

    /// `scheduler limit …`
    pub(super) fn scheduler(&mut self) -> PResult<()> {
        self.bump();
        self.dialect = Dialect::Modern;
        self.expect_kw("limit")?;
        self.scheduler_limits()?;
        self.end()
    }

    fn scheduler_limits(&mut self) -> PResult<()> {
        while !self.at_eol() {
            let (k, _, kpos) = self.word("a scheduler limit")?;
            let (n, _) = self.number("a number")?;
            if !self.b.cfg.scheduler.set(&k, n) {
                return self.fail(&kpos, format!("invalid scheduler limit keyword: {k}"));
            }
        }
        Ok(())
    }

    /// `bounce warn-interval D[, D…]`
    pub(super) fn bounce(&mut self) -> PResult<()> {
        self.bump();
        self.dialect = Dialect::Modern;
        self.expect_kw("warn-interval")?;
        let delays = self.delays(false)?;
        self.end()?;
        self.b.cfg.bounce.warn_interval = delays;
        Ok(())
    }

    /// `D[, D…]` (old `bounce-warn` may be empty).
    fn delays(&mut self, may_be_empty: bool) -> PResult<Vec<Duration>> {
        let mut v = Vec::new();
        if may_be_empty && self.at_eol() {
            return Ok(v);
        }
        loop {
            v.push(self.delay("bounce delay")?);
            if !self.eat_tok(&Tok::Comma) {
                return Ok(v);
            }
        }
    }

    /// `admd NAME`
    pub(super) fn admd(&mut self) -> PResult<()> {
        self.bump();
        self.dialect = Dialect::Modern;
        let (name, pos) = self.string("an authserv-id")?;
        if !name.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
            return self.fail(&pos, "not a valid admd");
        }
        self.end()?;
        self.b.cfg.admd = Some(name);
        Ok(())
    }

    /// The old global statements (5.3–6.0).
    pub(super) fn old_global(&mut self, kw: &str) -> PResult<()> {
        self.bump();
        self.dialect = Dialect::Old;
        match kw {
            "expire" => self.b.cfg.queue.ttl = self.delay("expire")?,
            "bounce-warn" => self.b.cfg.bounce.warn_interval = self.delays(true)?,
            "max-message-size" => self.b.cfg.smtp.max_message_size = self.size()?,
            "max-mta-deferred" => self.b.cfg.mta.max_deferred = self.number("a number")?.0,
            "ciphers" => self.b.cfg.smtp.ciphers = Some(self.cipher_list()?),
            "curve" => self.b.cfg.smtp.curve = Some(self.string("a curve name")?.0),
            "subaddressing-delimiter" => self.b.cfg.smtp.sub_addr_delim = self.delimiter()?,
            _ => {
                if self.eat("mda") {
                    self.mda_limits()?;
                } else if self.eat("mta") {
                    self.mta_limits()?;
                } else if self.eat("scheduler") {
                    self.scheduler_limits()?;
                } else if self.eat("session") {
                    self.session_limits()?;
                } else {
                    return self.unexpected("mda, mta, scheduler or session");
                }
            }
        }
        self.end()
    }

    /// A delay `N[smhd]`.
    pub(super) fn delay(&mut self, what: &str) -> PResult<Duration> {
        let (s, pos) = self.string(&format!("a delay for {what} (like 4d or 30m)"))?;
        match parse_delay(&s) {
            Some(d) => Ok(d),
            None => self.fail(
                &pos,
                format!("invalid {what}: {s} (expected a number followed by s, m, h or d)"),
            ),
        }
    }

    /// A size: bytes, or with a unit (`35M`).
    fn size(&mut self) -> PResult<u64> {
        let (s, _, pos) = self.word("a size")?;
        match parse_size(&s) {
            Some(n) => Ok(n),
            None => self.fail(&pos, format!("invalid size: {s}")),
        }
    }
}
