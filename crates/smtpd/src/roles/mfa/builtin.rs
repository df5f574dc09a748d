//! The builtin filters (`filter NAME phase PHASE match CONDITIONS
//! DECISION`): conditions checked against the session and the tables, the
//! decision applied when all of them hold.

use smtpd_config::{FilterCond, FilterCondition, Operand};
use smtpd_table::{Service, TableError};

use crate::msg::{ClientAddr, SessionInfo};
use crate::roles::lka::tables::Tables;

/// What a builtin condition is checked against.
pub struct Subject<'a> {
    pub session: &'a SessionInfo,
    pub mail_from: Option<&'a str>,
    /// The recipient, at rcpt-to.
    pub rcpt_to: Option<&'a str>,
}

/// Whether every condition holds (a table that fails to answer is an
/// error: the session gets a temporary failure).
pub fn matches(
    tables: &Tables,
    conds: &[FilterCondition],
    s: &Subject<'_>,
) -> Result<bool, TableError> {
    for c in conds {
        if holds(tables, &c.cond, s)? == c.negated {
            return Ok(false);
        }
    }
    Ok(true)
}

fn holds(tables: &Tables, cond: &FilterCond, s: &Subject<'_>) -> Result<bool, TableError> {
    let sess = s.session;
    Ok(match cond {
        FilterCond::Fcrdns => sess.fcrdns,
        FilterCond::Rdns(None) => sess.rdns.is_some(),
        FilterCond::Rdns(Some(op)) => match &sess.rdns {
            Some(name) => check(tables, op, Service::Domain, name)?,
            None => false,
        },
        FilterCond::Src(op) => {
            let key = match &sess.client {
                ClientAddr::Inet(ip) => ip.to_string(),
                ClientAddr::Local => "local".to_string(),
            };
            check(tables, op, Service::Netaddr, &key)?
        }
        FilterCond::Helo(op) => {
            !sess.helo.is_empty() && check(tables, op, Service::Domain, &sess.helo)?
        }
        FilterCond::Auth(None) => sess.auth_user.is_some(),
        FilterCond::Auth(Some(op)) => match &sess.auth_user {
            Some(user) => check(tables, op, Service::String, user)?,
            None => false,
        },
        FilterCond::MailFrom(op) => match s.mail_from {
            Some(addr) => check(tables, op, Service::Mailaddr, addr)?,
            None => false,
        },
        FilterCond::RcptTo(op) => match s.rcpt_to {
            Some(addr) => check(tables, op, Service::Mailaddr, addr)?,
            None => false,
        },
    })
}

fn check(tables: &Tables, op: &Operand, service: Service, key: &str) -> Result<bool, TableError> {
    let service = if op.regex { Service::Regex } else { service };
    tables.check(&op.table, service, key)
}
