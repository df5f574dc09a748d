//! The ruleset: find the first rule whose conditions all hold for one
//! recipient (OpenSMTPD's ruleset.c, for both grammars' rules).
//!
//! Table failures are not "no match": they make the whole decision a
//! temporary failure (451), as OpenSMTPD's `MATCH_EVAL` does.

use smtpd_config::{Cond, Condition, Config, Decision, Operand, Rule};
use smtpd_table::{Service, TableError};
use smtpd_types::MailAddr;

use super::tables::Tables;
use crate::msg::{ClientAddr, SessionInfo};

/// What the rule engine looks at for one recipient.
pub struct Subject<'a> {
    pub session: &'a SessionInfo,
    pub mail_from: Option<&'a MailAddr>,
    pub dest: &'a MailAddr,
    /// The address came out of an alias or `.forward` expansion: the
    /// `from` conditions see the key `local` (OpenSMTPD's `EF_INTERNAL`).
    pub internal: bool,
}

/// The first matching rule and its index, or `None`.
pub fn first_match<'c>(
    config: &'c Config,
    tables: &Tables,
    s: &Subject<'_>,
) -> Result<Option<(usize, &'c Rule)>, TableError> {
    for (i, rule) in config.rules.iter().enumerate() {
        if rule_holds(tables, rule, s)? {
            return Ok(Some((i, rule)));
        }
    }
    Ok(None)
}

/// The decision of the first matching rule.
pub fn decide(
    config: &Config,
    tables: &Tables,
    s: &Subject<'_>,
) -> Result<Option<Decision>, TableError> {
    Ok(first_match(config, tables, s)?.map(|(_, r)| r.decision.clone()))
}

fn rule_holds(tables: &Tables, rule: &Rule, s: &Subject<'_>) -> Result<bool, TableError> {
    for c in &rule.conditions {
        if !condition_holds(tables, c, s)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn condition_holds(tables: &Tables, c: &Condition, s: &Subject<'_>) -> Result<bool, TableError> {
    match cond_holds(tables, &c.cond, s)? {
        // An expanded address never matches a from-condition that has no
        // table to look `local` up in (OpenSMTPD skips such rules), even
        // negated.
        None => Ok(false),
        Some(v) => Ok(v != c.negated),
    }
}

/// `Some(truth)`, or `None` when the condition cannot apply at all.
fn cond_holds(tables: &Tables, cond: &Cond, s: &Subject<'_>) -> Result<Option<bool>, TableError> {
    let sess = s.session;
    let is_local_addr = |t: &Tables| -> Result<bool, TableError> {
        match &sess.client {
            ClientAddr::Local => Ok(true),
            ClientAddr::Inet(ip) => t.check("localhost", Service::Netaddr, &ip.to_string()),
        }
    };
    let v = match cond {
        Cond::FromAny => true,
        Cond::FromLocal { or_authenticated } => {
            if s.internal {
                true
            } else {
                is_local_addr(tables)? || (*or_authenticated && sess.auth_user.is_some())
            }
        }
        Cond::FromSocket => {
            if s.internal {
                return Ok(None);
            }
            sess.client == ClientAddr::Local
        }
        Cond::FromSrc {
            operand,
            authenticated_as_local,
        } => {
            let key = if s.internal
                || sess.client == ClientAddr::Local
                || (*authenticated_as_local && sess.auth_user.is_some())
            {
                "local".to_string()
            } else {
                match &sess.client {
                    ClientAddr::Inet(ip) => ip.to_string(),
                    ClientAddr::Local => "local".to_string(),
                }
            };
            matches(tables, operand, Service::Netaddr, &key)?
        }
        Cond::FromAuth(op) | Cond::Auth(op) => {
            if s.internal && matches!(cond, Cond::FromAuth(_)) {
                return Ok(None);
            }
            match (&sess.auth_user, op) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(u), Some(op)) => {
                    let svc = if u.contains('@') {
                        Service::Mailaddr
                    } else {
                        Service::String
                    };
                    matches(tables, op, svc, u)?
                }
            }
        }
        Cond::FromRdns(op) => {
            if s.internal {
                return Ok(None);
            }
            match (&sess.rdns, op) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(name), Some(op)) => matches(tables, op, Service::Domain, name)?,
            }
        }
        Cond::FromMailFrom(op) | Cond::MailFrom(op) => {
            let key = s.mail_from.map(|a| a.to_string()).unwrap_or_default();
            matches(tables, op, Service::Mailaddr, &key)?
        }
        Cond::ForAny => true,
        Cond::ForLocal => tables.check("localnames", Service::Domain, &s.dest.domain)?,
        Cond::ForDomain(op) => matches(tables, op, Service::Domain, &s.dest.domain)?,
        Cond::ForRcptTo(op) | Cond::RcptTo(op) => {
            matches(tables, op, Service::Mailaddr, &s.dest.to_string())?
        }
        Cond::Helo(op) => matches(tables, op, Service::Domain, &sess.helo)?,
        Cond::Tag(op) => match &sess.tag {
            Some(t) => matches(tables, op, Service::String, t)?,
            None => false,
        },
        Cond::Tls => sess.tls,
    };
    Ok(Some(v))
}

fn matches(tables: &Tables, op: &Operand, service: Service, key: &str) -> Result<bool, TableError> {
    let service = if op.regex { Service::Regex } else { service };
    tables.check(&op.table, service, key)
}
