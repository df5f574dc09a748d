//! `match [!]COND… (action NAME | reject)` (today's grammar).

use std::collections::HashSet;

use crate::lexer::Tok;
use crate::model::{Cond, Condition, Decision, Grammar, Rule, UseSite};

use super::{Dialect, PResult, Parser};

/// Which condition kinds share a slot (each may be given once).
fn slot(cond: &Cond) -> &'static str {
    match cond {
        c if c.is_from() => "from",
        c if c.is_for() => "for",
        Cond::Auth(_) => "auth",
        Cond::Helo(_) => "helo",
        Cond::MailFrom(_) => "mail-from",
        Cond::RcptTo(_) => "rcpt-to",
        Cond::Tag(_) => "tag",
        _ => "tls",
    }
}

impl Parser {
    pub(super) fn match_rule(&mut self) -> PResult<()> {
        let kw = self.bump();
        self.dialect = Dialect::Modern;
        let mut conds: Vec<Condition> = Vec::new();
        let mut used: HashSet<&'static str> = HashSet::new();
        while !(self.at("action") || self.at("reject") || self.at_eol()) {
            let c = self.match_condition()?;
            let key = slot(&c.cond);
            if !used.insert(key) {
                return self.fail(
                    &crate::lexer::Pos::from_span(&c.span),
                    format!("{key} already specified for this rule"),
                );
            }
            // `from auth`, `from mail-from` and `for rcpt-to` also set the
            // auth / mail-from / rcpt-to check, overriding an earlier one
            // (OpenSMTPD does not reject that).
            let implied = match c.cond {
                Cond::FromAuth(_) => Some("auth"),
                Cond::FromMailFrom(_) => Some("mail-from"),
                Cond::ForRcptTo(_) => Some("rcpt-to"),
                _ => None,
            };
            if let Some(k) = implied {
                used.insert(k);
                conds.retain(|x| x.cond.is_from() || x.cond.is_for() || slot(&x.cond) != k);
            }
            conds.push(c);
        }
        let decision = if self.eat("reject") {
            Decision::Reject
        } else if self.eat("action") {
            let (name, npos) = self.string("an action name")?;
            if self.b.cfg.action(&name).is_none() {
                return self.fail(&npos, format!("no such dispatcher: {name}"));
            }
            Decision::Action(name)
        } else {
            return self.unexpected("a match condition, 'action NAME' or 'reject'");
        };
        self.end()?;
        let span = kw.pos.span();
        if !used.contains("from") {
            conds.push(Condition {
                negated: false,
                cond: Cond::FromLocal {
                    or_authenticated: false,
                },
                span: span.clone(),
            });
        }
        if !used.contains("for") {
            conds.push(Condition {
                negated: false,
                cond: Cond::ForLocal,
                span: span.clone(),
            });
        }
        self.b.cfg.rules.push(Rule {
            conditions: conds,
            decision,
            grammar: Grammar::Match,
            span,
        });
        Ok(())
    }

    fn match_condition(&mut self) -> PResult<Condition> {
        let start = self.pos();
        let negated = self.eat_tok(&Tok::Bang);
        let expected = "a match condition (from, for, auth, helo, mail-from, rcpt-to, tag, tls)";
        let kw = match &self.peek().tok {
            Tok::Word {
                text,
                quoted: false,
            } => text.clone(),
            _ => return self.unexpected(expected),
        };
        let cond = match kw.as_str() {
            "tag" => {
                self.bump();
                Cond::Tag(self.operand(UseSite::Tag)?)
            }
            "helo" => {
                self.bump();
                Cond::Helo(self.operand(UseSite::Helo)?)
            }
            "tls" => {
                self.bump();
                Cond::Tls
            }
            "auth" => {
                self.bump();
                Cond::Auth(self.opt_operand(UseSite::Auth)?)
            }
            "mail-from" => {
                self.bump();
                Cond::MailFrom(self.operand(UseSite::Mailaddr)?)
            }
            "rcpt-to" => {
                self.bump();
                Cond::RcptTo(self.operand(UseSite::Mailaddr)?)
            }
            "from" => {
                self.bump();
                self.match_from()?
            }
            "for" => {
                self.bump();
                if self.eat("local") {
                    Cond::ForLocal
                } else if self.eat("any") {
                    Cond::ForAny
                } else if self.eat("domain") {
                    Cond::ForDomain(self.operand(UseSite::ForDomain)?)
                } else if self.eat("rcpt-to") {
                    Cond::ForRcptTo(self.operand(UseSite::Mailaddr)?)
                } else {
                    return self.unexpected("local, any, domain or rcpt-to");
                }
            }
            _ => return self.unexpected(expected),
        };
        Ok(Condition {
            negated,
            cond,
            span: start.span(),
        })
    }

    fn match_from(&mut self) -> PResult<Cond> {
        Ok(if self.eat("socket") {
            Cond::FromSocket
        } else if self.eat("local") {
            Cond::FromLocal {
                or_authenticated: false,
            }
        } else if self.eat("any") {
            Cond::FromAny
        } else if self.eat("src") {
            Cond::FromSrc {
                operand: self.operand(UseSite::FromSrc)?,
                authenticated_as_local: false,
            }
        } else if self.eat("rdns") {
            Cond::FromRdns(self.opt_operand(UseSite::FromRdns)?)
        } else if self.eat("auth") {
            Cond::FromAuth(self.opt_operand(UseSite::Auth)?)
        } else if self.eat("mail-from") {
            Cond::FromMailFrom(self.operand(UseSite::Mailaddr)?)
        } else {
            return self.unexpected("socket, local, any, src, rdns, auth or mail-from");
        })
    }
}
