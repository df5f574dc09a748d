//! `accept …` / `reject …` (5.3 → 6.0), lowered into a [`Rule`] plus, for
//! `accept`, an [`Action`] named after the rule.
//!
//! `accept|reject [decision…] [lookup…] [action] [expire D] [forward-only]`
//! where decisions are `from`, `for`, `sender`, `recipient`, `tagged`,
//! `[!] authenticated` (any order), lookups `alias`, `virtual`,
//! `userbase`, and the action `deliver to …` or `relay …`.

use std::collections::HashSet;
use std::time::Duration;

use crate::lexer::{Pos, Tok};
use crate::model::{
    Action, ActionOrigin, Cond, Condition, Decision, Grammar, LocalDelivery, LocalKind, Mapping,
    Method, Operand, Relay, RelayTls, RelayTlsMode, RelayUrl, Rule, TableOrigin, TableSource,
    UseSite,
};

use super::{Dialect, PResult, Parser};

/// The delivery part of an old rule, before lowering.
enum OldAction {
    None,
    Local(LocalKind, Option<String>),
    Relay(Box<Relay>),
}

impl Parser {
    pub(super) fn old_rule(&mut self) -> PResult<()> {
        let kw = self.bump();
        self.dialect = Dialect::Old;
        let accept = matches!(&kw.tok, Tok::Word { text, .. } if text == "accept");
        let mut conds: Vec<Condition> = Vec::new();
        let mut seen: HashSet<&'static str> = HashSet::new();
        let mut mapping: Option<Mapping> = None;
        let mut userbase: Option<String> = None;
        loop {
            let pos = self.pos();
            if self.at_tok(&Tok::Bang) || self.at("authenticated") {
                let negated = self.eat_tok(&Tok::Bang);
                self.expect_kw("authenticated")?;
                self.once_in_rule(&mut seen, "authenticated", &pos)?;
                conds.push(cond(negated, Cond::Auth(None), &pos));
            } else if self.eat("from") {
                self.once_in_rule(&mut seen, "from", &pos)?;
                let negated = self.eat_tok(&Tok::Bang);
                let c = self.old_from()?;
                conds.push(cond(negated, c, &pos));
            } else if self.eat("for") {
                self.once_in_rule(&mut seen, "for", &pos)?;
                let negated = self.eat_tok(&Tok::Bang);
                let c = if self.eat("any") {
                    Cond::ForAny
                } else if self.eat("local") {
                    Cond::ForLocal
                } else if self.eat("domain") {
                    Cond::ForDomain(self.plain_operand(UseSite::ForDomain)?)
                } else {
                    return self.unexpected("any, local or domain");
                };
                conds.push(cond(negated, c, &pos));
            } else if self.at("sender") || self.at("recipient") {
                let sender = self.at("sender");
                self.bump();
                self.once_in_rule(&mut seen, if sender { "sender" } else { "recipient" }, &pos)?;
                let negated = self.eat_tok(&Tok::Bang);
                let o = self.plain_operand(UseSite::Mailaddr)?;
                let c = if sender {
                    Cond::MailFrom(o)
                } else {
                    Cond::RcptTo(o)
                };
                conds.push(cond(negated, c, &pos));
            } else if self.eat("tagged") {
                self.once_in_rule(&mut seen, "tagged", &pos)?;
                let negated = self.eat_tok(&Tok::Bang);
                let (tag, tpos) = self.string("a tag")?;
                if tag.len() >= 32 {
                    return self.fail(&tpos, format!("tag name too long: {tag}"));
                }
                let table = self.b.anon_table(
                    TableSource::List(vec![tag]),
                    TableOrigin::Literal,
                    tpos.span(),
                );
                conds.push(cond(
                    negated,
                    Cond::Tag(Operand {
                        table,
                        regex: false,
                    }),
                    &pos,
                ));
            } else if self.at("alias") || self.at("virtual") {
                let alias = self.at("alias");
                self.bump();
                if mapping.is_some() {
                    let what = if alias { "alias" } else { "virtual" };
                    return self.fail(&pos, format!("{what} specified multiple times"));
                }
                mapping = Some(if alias {
                    Mapping::Alias(self.table_ref(UseSite::Alias, false)?)
                } else {
                    Mapping::Virtual(self.table_ref(UseSite::Virtual, false)?)
                });
            } else if self.eat("userbase") {
                if userbase.is_some() {
                    return self.fail(&pos, "userbase specified multiple times");
                }
                userbase = Some(self.table_ref(UseSite::Userbase, false)?);
            } else {
                break;
            }
        }
        let span = kw.pos.span();
        if !seen.contains("from") {
            conds.push(cond(
                false,
                Cond::FromLocal {
                    or_authenticated: true,
                },
                &kw.pos,
            ));
        }
        if !seen.contains("for") {
            conds.push(cond(false, Cond::ForLocal, &kw.pos));
        }
        if !accept {
            self.end()?;
            self.b.cfg.rules.push(Rule {
                conditions: conds,
                decision: Decision::Reject,
                grammar: Grammar::Old,
                span,
            });
            return Ok(());
        }

        let act_pos = self.pos();
        let mut action = if self.eat("deliver") {
            self.expect_kw("to")?;
            self.old_deliver()?
        } else if self.eat("relay") {
            OldAction::Relay(Box::new(self.old_relay()?))
        } else {
            OldAction::None
        };
        let mut expire: Option<Duration> = None;
        let mut forward_only = false;
        while !self.at_eol() {
            let pos = self.pos();
            if self.eat("expire") {
                if expire.is_some() {
                    return self.fail(&pos, "expire specified multiple times");
                }
                expire = Some(self.delay("expire delay")?);
            } else if self.eat("forward-only") {
                if forward_only {
                    return self.fail(&pos, "forward-only specified multiple times");
                }
                forward_only = true;
            } else if let OldAction::Relay(r) = &mut action {
                let mut r = std::mem::take(r);
                let more = self.old_relay_option(&mut r)?;
                action = OldAction::Relay(r);
                if !more {
                    return self.unexpected("a relay option, expire or forward-only");
                }
            } else {
                return self.unexpected("expire, forward-only or end of line");
            }
        }
        self.end()?;

        let method = match action {
            OldAction::Relay(_) if userbase.is_some() => {
                return self.fail(&act_pos, "userbase may not be used with a relay rule");
            }
            OldAction::Relay(_) if mapping.is_some() => {
                return self.fail(
                    &act_pos,
                    "aliases/virtual may not be used with a relay rule",
                );
            }
            OldAction::Relay(_) | OldAction::Local(..) if forward_only => {
                return self.fail(
                    &act_pos,
                    "forward-only may not be used with a default action",
                );
            }
            OldAction::Relay(r) => Method::Relay(*r),
            OldAction::Local(kind, user) => Method::Local(LocalDelivery {
                kind,
                mapping,
                userbase,
                user,
                wrapper: None,
            }),
            // No delivery action: only aliases/.forward expansion (5.x
            // `forward-only`, or a rule with no action at all).
            OldAction::None => Method::Local(LocalDelivery {
                kind: LocalKind::ForwardOnly,
                mapping,
                userbase,
                user: None,
                wrapper: None,
            }),
        };
        let name = self.b.old_action_name();
        self.b.cfg.actions.push(Action {
            name: name.clone(),
            method,
            ttl: expire,
            origin: ActionOrigin::OldRule,
            span: span.clone(),
        });
        self.b.cfg.rules.push(Rule {
            conditions: conds,
            decision: Decision::Action(name),
            grammar: Grammar::Old,
            span,
        });
        Ok(())
    }

    fn once_in_rule(
        &mut self,
        seen: &mut HashSet<&'static str>,
        key: &'static str,
        pos: &Pos,
    ) -> PResult<()> {
        if !seen.insert(key) {
            return self.fail(pos, format!("{key} specified multiple times"));
        }
        Ok(())
    }

    /// A table operand with no `regex` (the old grammar has none).
    fn plain_operand(&mut self, site: UseSite) -> PResult<Operand> {
        Ok(Operand {
            table: self.table_ref(site, false)?,
            regex: false,
        })
    }

    /// `from` `any | local | source TABLE | TABLE` (5.3: a bare table or
    /// network).
    fn old_from(&mut self) -> PResult<Cond> {
        if self.eat("any") {
            return Ok(Cond::FromAny);
        }
        if self.eat("local") {
            return Ok(Cond::FromLocal {
                or_authenticated: true,
            });
        }
        self.eat("source");
        Ok(Cond::FromSrc {
            operand: self.plain_operand(UseSite::FromSrc)?,
            authenticated_as_local: true,
        })
    }

    /// After `deliver to`: `mbox | maildir [PATH] | lmtp DEST [rcpt-to]
    /// [as USER] | mda CMD [as USER]`.
    fn old_deliver(&mut self) -> PResult<OldAction> {
        let kind = if self.eat("mbox") {
            LocalKind::Mbox
        } else if self.eat("maildir") {
            let path = if self.at_string() {
                Some(self.string("a maildir path")?.0)
            } else {
                None
            };
            LocalKind::Maildir { path, junk: false }
        } else if self.eat("lmtp") {
            let (dest, dpos) = self.string("an LMTP destination (host:port or socket path)")?;
            if !(dest.contains(':') || dest.starts_with('/')) {
                return self.fail(&dpos, format!("invalid lmtp destination: {dest}"));
            }
            LocalKind::Lmtp {
                dest,
                rcpt_to: self.eat("rcpt-to"),
            }
        } else if self.eat("mda") {
            LocalKind::Mda {
                command: self.string("a command")?.0,
            }
        } else {
            return self.unexpected("mbox, maildir, lmtp or mda");
        };
        let user = if !matches!(kind, LocalKind::Mbox | LocalKind::Maildir { .. }) && self.eat("as")
        {
            Some(self.string("a user name")?.0)
        } else {
            None
        };
        Ok(OldAction::Local(kind, user))
    }

    /// After `relay`: `via URL` and its options, or the plain relay options.
    fn old_relay(&mut self) -> PResult<Relay> {
        let mut r = Relay::default();
        if self.eat("via") {
            let (url, upos) = self.string("a relay URL")?;
            let parsed = match RelayUrl::parse_old(&url) {
                Ok(u) => u,
                Err(e) => return self.fail(&upos, format!("invalid url: {url}: {e}")),
            };
            let mut verify = false;
            let mut certificate = None;
            loop {
                let pos = self.pos();
                if self.eat("auth") {
                    r.auth = Some(self.table_ref(UseSite::RelayAuth, false)?);
                } else if self.eat("verify") {
                    if matches!(
                        parsed.tls,
                        RelayTlsMode::Opportunistic | RelayTlsMode::NoTls
                    ) {
                        return self.fail(&pos, "cannot \"verify\" with insecure protocol");
                    }
                    verify = true;
                } else if self.eat("certificate") {
                    certificate = Some(self.string("a certificate name")?.0.to_ascii_lowercase());
                } else if !self.old_relay_option(&mut r)? {
                    break;
                }
            }
            if parsed.auth && r.auth.is_none() {
                return self.fail(&upos, "error: auth without auth table");
            }
            if !matches!(
                parsed.tls,
                RelayTlsMode::Opportunistic | RelayTlsMode::NoTls
            ) {
                r.tls = Some(RelayTls { verify });
            }
            r.pki = certificate.or(r.pki.take());
            r.host = Some(self.b.anon_table(
                TableSource::List(vec![parsed.to_string()]),
                TableOrigin::Literal,
                upos.span(),
            ));
            return Ok(r);
        }
        while self.old_relay_option(&mut r)? {}
        Ok(r)
    }

    /// One relay option: `as`, `source`, `hostname`, `hostnames`, `pki`,
    /// 5.3 `helo <t>`, and (for plain relay) `backup [MX]`, `tls [verify]`.
    /// `false` if none comes next.
    fn old_relay_option(&mut self, r: &mut Relay) -> PResult<bool> {
        if self.eat("as") {
            let (a, apos) = self.string("an address")?;
            if a.is_empty() || a == "@" {
                return self.fail(&apos, "invalid empty parameter to AS");
            }
            r.mail_from = Some(a);
        } else if self.eat("source") {
            r.src = Some(self.table_ref(UseSite::RelaySrc, false)?);
        } else if self.eat("hostname") {
            r.helo = Some(self.string("a host name")?.0);
        } else if self.eat("hostnames") || self.eat("helo") {
            r.helo_src = Some(self.table_ref(UseSite::HeloSrc, false)?);
        } else if self.eat("pki") {
            r.pki = Some(self.string("a pki name")?.0.to_ascii_lowercase());
        } else if self.eat("backup") {
            r.backup = Some(if self.at_string() {
                Some(self.string("a host name")?.0)
            } else {
                None
            });
        } else if self.eat("tls") {
            r.tls = Some(RelayTls {
                verify: self.eat("verify"),
            });
        } else {
            return Ok(false);
        }
        Ok(true)
    }
}

fn cond(negated: bool, cond: Cond, pos: &Pos) -> Condition {
    Condition {
        negated,
        cond,
        span: pos.span(),
    }
}
