//! `match` lines, and the conversion of old `accept`/`reject` rules.
//!
//! An old rule tests its source with the key `local` when the session is
//! authenticated (5.x counted authenticated sessions as local). Today's
//! `from` does not, so an old rule becomes one or two `match` rules:
//!
//! | old                      | today                                               |
//! |--------------------------|-----------------------------------------------------|
//! | `from local` (default)   | `from local …` and `from auth …`                    |
//! | `from source <t>`        | `from src <t> !auth …` (plus `from auth …` if `<t>` holds `local`) |
//! | `from any`               | `from any …`                                        |
//!
//! combined with an `authenticated` / `! authenticated` condition by
//! boolean algebra; a rule that can never match becomes `!from any …`
//! (the ruleset keeps its shape and its actions stay referenced).

use crate::model::{Cond, Condition, Decision, Grammar, Rule, TableSource};

use super::{word, Printer};

/// One `from`/`auth` combination of a converted rule.
type Variant = Vec<String>;

impl Printer<'_> {
    pub(super) fn rules(&mut self) {
        self.section();
        let cfg = self.cfg;
        for r in &cfg.rules {
            let decision = match &r.decision {
                Decision::Action(a) => format!("action {}", word(a)),
                Decision::Reject => "reject".to_string(),
            };
            match r.grammar {
                Grammar::Match => {
                    let conds: Vec<String> =
                        r.conditions.iter().map(|c| self.condition(c)).collect();
                    self.line(format!("match {} {decision}", conds.join(" ")));
                }
                Grammar::Old => {
                    for v in self.convert_old(r) {
                        self.line(format!("match {} {decision}", v.join(" ")));
                    }
                }
            }
        }
    }

    fn condition(&self, c: &Condition) -> String {
        let neg = if c.negated { "!" } else { "" };
        let opt = |o: &Option<crate::model::Operand>| match o {
            Some(o) => format!(" {}", self.operand(o)),
            None => String::new(),
        };
        let body = match &c.cond {
            Cond::FromAny => "from any".to_string(),
            Cond::FromLocal { .. } => "from local".to_string(),
            Cond::FromSocket => "from socket".to_string(),
            Cond::FromSrc { operand, .. } => format!("from src {}", self.operand(operand)),
            Cond::FromAuth(o) => format!("from auth{}", opt(o)),
            Cond::FromRdns(o) => format!("from rdns{}", opt(o)),
            Cond::FromMailFrom(o) => format!("from mail-from {}", self.operand(o)),
            Cond::ForAny => "for any".to_string(),
            Cond::ForLocal => "for local".to_string(),
            Cond::ForDomain(o) => format!("for domain {}", self.operand(o)),
            Cond::ForRcptTo(o) => format!("for rcpt-to {}", self.operand(o)),
            Cond::Auth(o) => format!("auth{}", opt(o)),
            Cond::Helo(o) => format!("helo {}", self.operand(o)),
            Cond::MailFrom(o) => format!("mail-from {}", self.operand(o)),
            Cond::RcptTo(o) => format!("rcpt-to {}", self.operand(o)),
            Cond::Tag(o) => format!("tag {}", self.operand(o)),
            Cond::Tls => "tls".to_string(),
        };
        format!("{neg}{body}")
    }

    /// The `match` condition lists an old rule becomes (possibly none).
    fn convert_old(&self, r: &Rule) -> Vec<Variant> {
        let mut from = None;
        let mut auth = None;
        let mut rest = Vec::new();
        for c in &r.conditions {
            match &c.cond {
                Cond::FromLocal { .. } | Cond::FromSrc { .. } | Cond::FromAny if from.is_none() => {
                    from = Some(c)
                }
                Cond::Auth(None) if auth.is_none() => auth = Some(c.negated),
                _ => rest.push(self.condition(c)),
            }
        }
        let Some(from) = from else {
            return vec![rest];
        };
        let f = self.condition(from);
        let with = |mut v: Variant| {
            v.extend(rest.iter().cloned());
            v
        };
        let s = |x: &str| x.to_string();
        let never = || vec![vec![s("!from any")]];
        let variants: Vec<Variant> = match (&from.cond, from.negated, auth) {
            (Cond::FromAny, _, a) => {
                let mut v = vec![f];
                if let Some(neg) = a {
                    v.push(s(if neg { "!auth" } else { "auth" }));
                }
                vec![v]
            }
            (Cond::FromLocal { .. }, false, None) => vec![vec![f], vec![s("from auth")]],
            (Cond::FromLocal { .. }, false, Some(false)) => vec![vec![s("from auth")]],
            (Cond::FromLocal { .. }, false, Some(true)) => vec![vec![f, s("!auth")]],
            (Cond::FromLocal { .. }, true, Some(false)) => never(),
            (Cond::FromLocal { .. }, true, _) => vec![vec![f, s("!auth")]],
            (Cond::FromSrc { operand, .. }, neg, a) => {
                let local = self.holds_local(&operand.table);
                match (neg, a, local) {
                    (_, Some(true), _) => vec![vec![f, s("!auth")]],
                    (false, None, true) => vec![vec![f], vec![s("from auth")]],
                    (false, None, false) => vec![vec![f, s("!auth")]],
                    (false, Some(false), true) => vec![vec![s("from auth")]],
                    (false, Some(false), false) => never(),
                    (true, None, true) => vec![vec![f, s("!auth")]],
                    (true, None, false) => vec![vec![f], vec![s("from auth")]],
                    (true, Some(false), true) => never(),
                    (true, Some(false), false) => vec![vec![s("from auth")]],
                }
            }
            _ => vec![vec![f]],
        };
        variants.into_iter().map(with).collect()
    }

    /// Does the (inline) table hold the key `local`, which an old rule
    /// looks up for authenticated sessions? File tables are assumed not to.
    fn holds_local(&self, table: &str) -> bool {
        matches!(self.cfg.table(table).map(|t| &t.source),
            Some(TableSource::List(v)) if v.iter().any(|x| x == "local"))
    }
}
