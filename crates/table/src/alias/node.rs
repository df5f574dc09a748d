//! Alias values: what one key of an aliases(5) or virtual table expands to.
//!
//! A value is a comma list (see [`crate::listsplit`]) whose items are, in
//! the order OpenSMTPD's `text_to_expandnode()` tries them:
//! `error:CODE message` (also `:error:`), `:include:/path` (also `include:`),
//! `|command` or `"|command"`, `/path/to/file`, `user@domain`, `user`.

use crate::listsplit::{split_list, SplitError};
use serde::{Deserialize, Serialize};
use smtpd_types::{EnhancedStatus, MailAddr};
use std::fmt;
use std::path::PathBuf;

/// One destination an alias expands to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExpandNode {
    /// A local user name, itself subject to alias expansion.
    Username(String),
    /// A mail address (the tag is kept; the expander decides what to do).
    Address(MailAddr),
    /// Append the message to this file (absolute path).
    Filename(PathBuf),
    /// Pipe the message to this shell command (without the `|`).
    Filter(String),
    /// Read more alias items from this file (absolute path).
    Include(PathBuf),
    /// Refuse the recipient with this reply.
    Error(ErrorReply),
}

/// The reply of an `error:` alias: `error:550 5.1.1 No such user`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ErrorReply {
    /// 4xx (temporary) or 5xx (permanent).
    pub code: u16,
    /// The enhanced status code, when the message starts with one whose
    /// class agrees with `code`.
    pub status: Option<EnhancedStatus>,
    /// The rest of the message (may be empty after an enhanced status).
    pub text: String,
}

impl ErrorReply {
    /// Whether the failure is temporary (4xx).
    pub fn is_temporary(&self) -> bool {
        self.code < 500
    }
}

impl fmt::Display for ErrorReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(status) = self.status {
            write!(f, " {status}")?;
        }
        if !self.text.is_empty() {
            write!(f, " {}", self.text)?;
        }
        Ok(())
    }
}

impl fmt::Display for ExpandNode {
    /// The node written back in alias-file syntax.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpandNode::Username(u) => f.write_str(u),
            ExpandNode::Address(a) => write!(f, "{a}"),
            ExpandNode::Filename(p) => write!(f, "{}", p.display()),
            ExpandNode::Filter(cmd) => write!(f, "\"|{cmd}\""),
            ExpandNode::Include(p) => write!(f, ":include:{}", p.display()),
            ExpandNode::Error(e) => write!(f, "error:{e}"),
        }
    }
}

/// Why an alias value is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AliasError {
    #[error(transparent)]
    Split(#[from] SplitError),
    #[error("empty alias list")]
    Empty,
    #[error("\"{0}\": error code must be 4xx or 5xx followed by a space and a message")]
    BadErrorCode(String),
    #[error("\"{0}\": error alias has no message")]
    ErrorWithoutMessage(String),
    #[error("\"{0}\": error message must start with a letter or digit")]
    BadErrorMessage(String),
    #[error("\"{item}\": enhanced status {status} does not match reply code {code}")]
    StatusMismatch {
        item: String,
        code: u16,
        status: EnhancedStatus,
    },
    #[error("\"{0}\": include path must be absolute")]
    IncludeNotAbsolute(String),
    #[error("\"{0}\": empty command")]
    EmptyCommand(String),
    #[error("\"{0}\": quoted command lacks its closing quote")]
    UnterminatedCommand(String),
    #[error(
        "\"{0}\" is not a user name, user@domain, /file, |command, :include:/file or error:code message"
    )]
    Invalid(String),
}

/// Parse a whole alias value (`admin, /var/log/root.mail, "|cmd"`).
pub fn parse_alias_list(text: &str) -> Result<Vec<ExpandNode>, AliasError> {
    let nodes = split_list(text)?
        .iter()
        .map(|item| parse_expand_node(item))
        .collect::<Result<Vec<_>, _>>()?;
    if nodes.is_empty() {
        return Err(AliasError::Empty);
    }
    Ok(nodes)
}

/// Parse one (already split and trimmed) alias item.
pub fn parse_expand_node(item: &str) -> Result<ExpandNode, AliasError> {
    if let Some(rest) = strip_prefix_ci(item, ":error:").or_else(|| strip_prefix_ci(item, "error:"))
    {
        return parse_error(item, rest).map(ExpandNode::Error);
    }
    if let Some(rest) =
        strip_prefix_ci(item, ":include:").or_else(|| strip_prefix_ci(item, "include:"))
    {
        let path = rest.trim_start();
        if !path.starts_with('/') {
            return Err(AliasError::IncludeNotAbsolute(item.to_string()));
        }
        return Ok(ExpandNode::Include(PathBuf::from(path)));
    }
    if let Some(node) = parse_filter(item)? {
        return Ok(node);
    }
    if item.starts_with('/') {
        return Ok(ExpandNode::Filename(PathBuf::from(item)));
    }
    if let Some(addr) = parse_address(item) {
        return Ok(ExpandNode::Address(addr));
    }
    if is_username(item) {
        return Ok(ExpandNode::Username(item.to_string()));
    }
    Err(AliasError::Invalid(item.to_string()))
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// `CODE[ X.Y.Z] message`, as `alias_is_error()` checks it, plus the
/// enhanced status split off.
fn parse_error(item: &str, rest: &str) -> Result<ErrorReply, AliasError> {
    let bytes = rest.as_bytes();
    let code_ok = bytes.len() >= 3
        && matches!(bytes[0], b'4' | b'5')
        && bytes[1].is_ascii_digit()
        && bytes[2].is_ascii_digit();
    if !code_ok {
        return Err(AliasError::BadErrorCode(item.to_string()));
    }
    let code: u16 = rest[..3]
        .parse()
        .map_err(|_| AliasError::BadErrorCode(item.to_string()))?;
    let message = &rest[3..];
    if message.trim().is_empty() {
        return Err(AliasError::ErrorWithoutMessage(item.to_string()));
    }
    if !message.starts_with(' ') {
        return Err(AliasError::BadErrorCode(item.to_string()));
    }
    let message = &message[1..];
    if !message
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
    {
        return Err(AliasError::BadErrorMessage(item.to_string()));
    }
    let (first, after) = match message.split_once(' ') {
        Some((first, after)) => (first, after.trim_start()),
        None => (message, ""),
    };
    match EnhancedStatus::parse(first) {
        Some(status) if u16::from(status.class) == code / 100 => Ok(ErrorReply {
            code,
            status: Some(status),
            text: after.to_string(),
        }),
        Some(status) => Err(AliasError::StatusMismatch {
            item: item.to_string(),
            code,
            status,
        }),
        None => Ok(ErrorReply {
            code,
            status: None,
            text: message.to_string(),
        }),
    }
}

/// `|command` or `"|command"` (`alias_is_filter()`); `None` if the item is
/// not a command at all.
fn parse_filter(item: &str) -> Result<Option<ExpandNode>, AliasError> {
    let (quoted, rest) = match item.strip_prefix('"') {
        Some(rest) => (true, rest),
        None => (false, item),
    };
    let Some(command) = rest.strip_prefix('|') else {
        return Ok(None);
    };
    let command = if quoted {
        command
            .strip_suffix('"')
            .ok_or_else(|| AliasError::UnterminatedCommand(item.to_string()))?
    } else {
        command
    };
    let command = command.trim();
    if command.is_empty() {
        return Err(AliasError::EmptyCommand(item.to_string()));
    }
    Ok(Some(ExpandNode::Filter(command.to_string())))
}

/// `user@domain` with the character sets of `alias_is_address()`.
fn parse_address(item: &str) -> Option<MailAddr> {
    let (user, domain) = item.split_once('@')?;
    if user.is_empty() || domain.is_empty() {
        return None;
    }
    const USER_EXTRA: &str = "!#$%*/?|^{}`~&'+-=_.";
    let user_ok = user
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || USER_EXTRA.contains(c));
    let domain_ok = domain
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    (user_ok && domain_ok).then(|| MailAddr::new(user, domain))
}

/// A local user name as `alias_is_username()` accepts it.
fn is_username(item: &str) -> bool {
    !item.is_empty()
        && item
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '+'))
}
