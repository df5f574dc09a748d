//! One `%{…}` specifier: its name, optional substring and modifiers, and
//! its value for a delivery.

use super::{sanitize, FormatError};
use crate::context::{mbox_from, DeliveryContext};
use smtpd_types::MailAddr;

/// The names a specifier may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Specifier {
    /// `%{sender}`: `user@domain`, empty for `<>`.
    Sender,
    SenderUser,
    SenderDomain,
    /// `%{rcpt}`: the recipient as given in `RCPT TO`.
    Rcpt,
    RcptUser,
    RcptDomain,
    /// `%{dest}`: the final recipient after expansion.
    Dest,
    DestUser,
    DestDomain,
    UserName,
    /// `%{user.directory}`: the home directory, never sanitised.
    UserDirectory,
    /// `%{mbox.from}`: the sender, `MAILER-DAEMON` for `<>`.
    MboxFrom,
    /// `%{mda}`: the wrapped command in an `mda wrapper`, never sanitised.
    Mda,
}

impl Specifier {
    /// Look a name up, case-insensitively as OpenSMTPD does.
    pub fn parse(name: &str) -> Option<Self> {
        const NAMES: [(&str, Specifier); 13] = [
            ("sender", Specifier::Sender),
            ("sender.user", Specifier::SenderUser),
            ("sender.domain", Specifier::SenderDomain),
            ("rcpt", Specifier::Rcpt),
            ("rcpt.user", Specifier::RcptUser),
            ("rcpt.domain", Specifier::RcptDomain),
            ("dest", Specifier::Dest),
            ("dest.user", Specifier::DestUser),
            ("dest.domain", Specifier::DestDomain),
            ("user.username", Specifier::UserName),
            ("user.directory", Specifier::UserDirectory),
            ("mbox.from", Specifier::MboxFrom),
            ("mda", Specifier::Mda),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, s)| s)
    }

    /// Whether the value is sanitised (unless `:raw`): everything derived
    /// from addresses is; the home directory and the wrapped command come
    /// from trusted configuration and are not.
    fn sanitised(self) -> bool {
        !matches!(self, Specifier::UserDirectory | Specifier::Mda)
    }

    fn value(self, ctx: &DeliveryContext, mda: Option<&str>) -> Result<String, FormatError> {
        let sender = ctx.sender.as_ref();
        let user = |a: Option<&MailAddr>| a.map(|a| a.user.clone()).unwrap_or_default();
        let domain = |a: Option<&MailAddr>| a.map(|a| a.domain.clone()).unwrap_or_default();
        Ok(match self {
            Specifier::Sender => ctx.sender_string(),
            Specifier::SenderUser => user(sender),
            Specifier::SenderDomain => domain(sender),
            Specifier::Rcpt => ctx.rcpt.to_string(),
            Specifier::RcptUser => ctx.rcpt.user.clone(),
            Specifier::RcptDomain => ctx.rcpt.domain.clone(),
            Specifier::Dest => ctx.dest.to_string(),
            Specifier::DestUser => ctx.dest.user.clone(),
            Specifier::DestDomain => ctx.dest.domain.clone(),
            Specifier::UserName => ctx.user.username.clone(),
            Specifier::UserDirectory => ctx.user.directory.clone(),
            Specifier::MboxFrom => mbox_from(sender),
            Specifier::Mda => mda.ok_or(FormatError::NoMdaCommand)?.to_string(),
        })
    }
}

/// A substring expression, in character offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Range {
    /// `[n]`
    Index(i64),
    /// `[n:m]`, either side optional.
    Span {
        begin: Option<i64>,
        end: Option<i64>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Modifier {
    Lowercase,
    Uppercase,
    Strip,
    Raw,
}

/// A parsed `%{…}` body.
#[derive(Debug)]
pub(super) struct Token {
    spec: Specifier,
    range: Option<Range>,
    modifiers: Vec<Modifier>,
}

/// Parse `name[range]:mod|mod`.
pub(super) fn parse(body: &str) -> Result<Token, FormatError> {
    let name_end = body.find(['[', ':']).unwrap_or(body.len());
    let name = &body[..name_end];
    let spec =
        Specifier::parse(name).ok_or_else(|| FormatError::UnknownSpecifier(body.to_string()))?;
    let mut rest = &body[name_end..];
    let mut range = None;
    if let Some(inner_on) = rest.strip_prefix('[') {
        let close = inner_on
            .find(']')
            .ok_or_else(|| FormatError::BadSubstring(body.to_string()))?;
        range = Some(
            parse_range(&inner_on[..close])
                .ok_or_else(|| FormatError::BadSubstring(body.to_string()))?,
        );
        rest = &inner_on[close + 1..];
    }
    let mut modifiers = Vec::new();
    if let Some(mods) = rest.strip_prefix(':') {
        for m in mods.split('|') {
            modifiers.push(parse_modifier(m)?);
        }
    } else if !rest.is_empty() {
        return Err(FormatError::Malformed(body.to_string()));
    }
    Ok(Token {
        spec,
        range,
        modifiers,
    })
}

fn parse_range(inner: &str) -> Option<Range> {
    let num = |s: &str| -> Option<Option<i64>> {
        if s.is_empty() {
            Some(None)
        } else {
            s.parse::<i64>().ok().map(Some)
        }
    };
    match inner.split_once(':') {
        None => inner.parse().ok().map(Range::Index),
        Some((b, e)) => Some(Range::Span {
            begin: num(b)?,
            end: num(e)?,
        }),
    }
}

fn parse_modifier(m: &str) -> Result<Modifier, FormatError> {
    const MODS: [(&str, Modifier); 4] = [
        ("lowercase", Modifier::Lowercase),
        ("uppercase", Modifier::Uppercase),
        ("strip", Modifier::Strip),
        ("raw", Modifier::Raw),
    ];
    MODS.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(m))
        .map(|&(_, x)| x)
        .ok_or_else(|| FormatError::UnknownModifier(m.to_string()))
}

impl Token {
    /// The value this specifier stands for in this delivery.
    pub(super) fn evaluate(
        &self,
        body: &str,
        ctx: &DeliveryContext,
        mda: Option<&str>,
    ) -> Result<String, FormatError> {
        let mut value = self.spec.value(ctx, mda)?;
        let mut raw = false;
        for m in &self.modifiers {
            match m {
                Modifier::Lowercase => value.make_ascii_lowercase(),
                Modifier::Uppercase => value.make_ascii_uppercase(),
                Modifier::Strip => value = strip_subaddress(&value, ctx.sub_addr_delim),
                Modifier::Raw => raw = true,
            }
        }
        if let Some(range) = self.range {
            value = substring(&value, range).ok_or_else(|| FormatError::OutOfRange {
                specifier: body.to_string(),
                len: value.chars().count(),
            })?;
        }
        if !raw && self.spec.sanitised() {
            value = sanitize(&value);
        }
        Ok(value)
    }
}

/// `joe+tag@dom` → `joe@dom`, `joe+tag` → `joe`.
fn strip_subaddress(value: &str, delim: char) -> String {
    match value.find(delim) {
        None | Some(0) => value.to_string(),
        Some(start) => {
            let end = value[start..]
                .find('@')
                .map_or(value.len(), |at| start + at);
            format!("{}{}", &value[..start], &value[end..])
        }
    }
}

/// Apply a substring expression (see the module doc for its rules). `None`
/// when the offsets do not fit the value.
fn substring(value: &str, range: Range) -> Option<String> {
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len() as i64;
    if n == 0 {
        return Some(String::new());
    }
    let (begin, end) = match range {
        Range::Index(i) => {
            let i = if i < 0 { i + n } else { i };
            (i, i)
        }
        Range::Span { begin, end } => {
            let mut b = begin.unwrap_or(0);
            if b >= n {
                return None;
            }
            let mut e = end.map_or(n - 1, |e| e.min(n - 1));
            if b < 0 {
                b += n;
            }
            if e < 0 {
                e += n - 1;
            }
            (b, e)
        }
    };
    if begin < 0 || end < begin || end >= n {
        return None;
    }
    Some(chars[begin as usize..=end as usize].iter().collect())
}
