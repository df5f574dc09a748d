//! The errors of the protocol layer. Each one knows the reply the server
//! gives for it: see [`crate::codes`], the one place where errors become
//! reply codes, enhanced status codes and text.

use crate::path::PathError;

/// Why a command line was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The line exceeded [`crate::limits::MAX_COMMAND_LINE`]; it was
    /// discarded.
    #[error("command line too long")]
    LineTooLong,
    /// A control character (NUL, a bare CR, ...) in the line.
    #[error("control character in command line")]
    BadCharacter,
    /// Arguments that are not valid UTF-8.
    #[error("invalid UTF-8 in command arguments")]
    InvalidUtf8,
    /// A verb we do not know (or do not offer, like BDAT without CHUNKING).
    #[error("unknown command {verb:?}")]
    UnknownCommand { verb: String },
    /// Missing, extra or malformed arguments; `usage` is the expected form.
    #[error("syntax error, expected: {usage}")]
    Syntax { usage: &'static str },
    /// HELO/EHLO with an argument that is neither a domain nor an address
    /// literal.
    #[error("invalid domain name in HELO/EHLO")]
    InvalidHelo,
    /// MAIL FROM path refused.
    #[error("bad sender address: {0}")]
    BadSender(PathError),
    /// RCPT TO path refused.
    #[error("bad recipient address: {0}")]
    BadRecipient(PathError),
    /// A parameter we do not know or whose extension was not offered.
    #[error("unsupported parameter {0}")]
    UnknownParameter(String),
    /// A known parameter with a value we do not support
    /// (`BODY=BINARYMIME`, an ORCPT address type other than rfc822).
    #[error("unsupported value for parameter {0}")]
    UnsupportedValue(&'static str),
    /// A known parameter with an invalid value.
    #[error("invalid value for parameter {0}")]
    BadParameter(&'static str),
    /// The same parameter twice.
    #[error("duplicate parameter {0}")]
    DuplicateParameter(&'static str),
    /// A parameter that is not `keyword[=value]`.
    #[error("malformed parameter")]
    BadParameterSyntax,
    /// AUTH with a mechanism the session does not offer. The parser never
    /// returns this (it cannot know what is offered); the session does, so
    /// that the reply comes from the same table as every other.
    #[error("unsupported authentication mechanism {0}")]
    UnsupportedAuthMechanism(String),
}

/// Why a message's content was refused. The receivers keep reading up to
/// the end of the data (or the last BDAT chunk) after any of these, so the
/// session stays in step with the client, then report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    /// More than the allowed size (counted in CRLF form).
    #[error("message exceeds the size limit of {limit} bytes")]
    TooBig { limit: u64 },
    /// A text line longer than the allowed length. Never truncated.
    #[error("message has a line longer than {limit} bytes")]
    LineTooLong { limit: usize },
    /// Too many `Received:` headers: the message is looping.
    #[error("message has {count} Received headers: routing loop")]
    Loop { count: u32 },
}

/// Why a reply from a peer could not be read (client side). The connection
/// should be dropped: a peer that sends these cannot be kept in step with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("reply line without a valid 3-digit code: {0:?}")]
    BadCode(String),
    #[error("reply line with code {got} inside a reply with code {expected}")]
    CodeMismatch { expected: u16, got: u16 },
    #[error("reply line longer than the limit")]
    LineTooLong,
    #[error("reply larger than {limit} bytes")]
    TooLarge { limit: usize },
}

/// Why a client command could not be encoded: a value would have put a
/// control character (a CR or LF, above all) on the wire, or the line is
/// longer than any server accepts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("control character in a command argument")]
    ControlCharacter,
    #[error("command line longer than {limit} bytes")]
    TooLong { limit: usize },
}
