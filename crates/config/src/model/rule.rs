//! Rules: conditions on a recipient and the decision, first match wins.

use serde::{Deserialize, Serialize};

use super::{Operand, Span};

/// Which grammar a rule was written in. The two give some conditions
/// different meanings; those differences are spelled out in [`Cond`]
/// variants, so a consumer never has to branch on this.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grammar {
    /// `match …` (6.4 and later).
    Match,
    /// `accept …` / `reject …` (5.3 to 6.0).
    Old,
}

/// One rule. Rules are kept in file order; the first rule whose conditions
/// all hold decides. A rule always has exactly one `from`-kind condition and
/// one `for`-kind condition: the defaults (`from local`, `for local`) are
/// filled in when the text omits them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub conditions: Vec<Condition>,
    pub decision: Decision,
    pub grammar: Grammar,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// Accept the recipient and hand it to this action (by name).
    Action(String),
    Reject,
}

/// A condition, possibly negated (`!`): a negated condition holds when the
/// plain one does not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    pub negated: bool,
    pub cond: Cond,
    pub span: Span,
}

/// What a condition tests. Table operands are looked up with the key the
/// variant names; `regex` operands hold POSIX EREs matched against it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cond {
    /// `from any`: every session.
    FromAny,
    /// `from local`: the client address is local (`<localhost>`) or the
    /// session came through the local socket. With `or_authenticated`
    /// (old `accept`/`reject` rules, and their implicit default) an
    /// authenticated session also counts as local, as 5.x did.
    FromLocal { or_authenticated: bool },
    /// `from socket`: the session came through the local socket.
    FromSocket,
    /// `from src <netaddr>` (old `from source <t>` / `from <t>`): the client
    /// address is in the table. With `authenticated_as_local` (old rules)
    /// an authenticated session is looked up with the key `local` instead
    /// of its address, as 5.x did.
    FromSrc {
        operand: Operand,
        authenticated_as_local: bool,
    },
    /// `from auth [<t>]`: the session authenticated (as a user in the table).
    FromAuth(Option<Operand>),
    /// `from rdns [<t>]`: the client has a reverse DNS name (in the table).
    FromRdns(Option<Operand>),
    /// `from mail-from <t>`: the MAIL FROM address is in the table.
    FromMailFrom(Operand),
    /// `for any`: every destination.
    ForAny,
    /// `for local`: the domain is one of ours (`<localnames>`).
    ForLocal,
    /// `for domain <t>`: the recipient domain is in the table.
    ForDomain(Operand),
    /// `for rcpt-to <t>`: the recipient address is in the table.
    ForRcptTo(Operand),
    /// `auth [<t>]` (old `authenticated`): the session authenticated.
    Auth(Option<Operand>),
    /// `helo <t>`: the HELO/EHLO name is in the table.
    Helo(Operand),
    /// `mail-from <t>` (old `sender <t>`).
    MailFrom(Operand),
    /// `rcpt-to <t>` (old `recipient <t>`).
    RcptTo(Operand),
    /// `tag <t>` (old `tagged T`): the listener's tag.
    Tag(Operand),
    /// `tls`: the session is under TLS.
    Tls,
}

impl Cond {
    /// Is this the rule's `from`-kind condition?
    pub fn is_from(&self) -> bool {
        matches!(
            self,
            Cond::FromAny
                | Cond::FromLocal { .. }
                | Cond::FromSocket
                | Cond::FromSrc { .. }
                | Cond::FromAuth(_)
                | Cond::FromRdns(_)
                | Cond::FromMailFrom(_)
        )
    }

    /// Is this the rule's `for`-kind condition?
    pub fn is_for(&self) -> bool {
        matches!(
            self,
            Cond::ForAny | Cond::ForLocal | Cond::ForDomain(_) | Cond::ForRcptTo(_)
        )
    }

    /// The table operand, if any.
    pub fn operand(&self) -> Option<&Operand> {
        match self {
            Cond::FromSrc { operand, .. } => Some(operand),
            Cond::FromAuth(o) | Cond::FromRdns(o) | Cond::Auth(o) => o.as_ref(),
            Cond::FromMailFrom(o)
            | Cond::ForDomain(o)
            | Cond::ForRcptTo(o)
            | Cond::Helo(o)
            | Cond::MailFrom(o)
            | Cond::RcptTo(o)
            | Cond::Tag(o) => Some(o),
            _ => None,
        }
    }
}
