//! The one table from protocol errors to replies: reply code (RFC 5321
//! §4.2.3), enhanced status (RFC 3463, RFC 6531 for 5.6.7) and text.
//!
//! | error | reply |
//! |---|---|
//! | command line too long | `500 5.5.2 Line too long` |
//! | control character in a command | `500 5.5.2 Syntax error: control character in command` |
//! | invalid UTF-8 in arguments | `501 5.5.2 Syntax error: invalid UTF-8` |
//! | unknown verb | `500 5.5.1 Command unrecognized` |
//! | wrong arguments | `501 5.5.4 Syntax: <usage>` |
//! | bad HELO/EHLO name | `501 5.5.4 Invalid domain name` |
//! | bad MAIL FROM path | `553 5.1.7 Sender address syntax error: …` |
//! | bad RCPT TO path (and `<>`) | `553 5.1.3 Recipient address syntax error: …` |
//! | non-ASCII path without SMTPUTF8 | `553 5.6.7 Non-ASCII address requires SMTPUTF8` |
//! | unknown parameter / extension not offered | `555 5.5.4 Unsupported parameter X` |
//! | unsupported value (BODY=BINARYMIME, …) | `555 5.5.4 Unsupported value for X` |
//! | invalid value, malformed or duplicate parameter | `501 5.5.4 …` |
//! | AUTH mechanism not offered | `504 5.5.4 Unrecognized authentication type` |
//! | message too big | `552 5.3.4 Message too big: limit is N bytes` |
//! | text line too long | `554 5.6.0 Message refused: line longer than N bytes` |
//! | ≥ 100 `Received:` headers | `554 5.4.6 Routing loop detected: too many Received headers` |
//!
//! Choices worth a word: a line that is too long is not "too much mail data"
//! (552) but a content the system refuses as a whole, hence 554 with the
//! media-error code 5.6.0. Loops use 554 (transaction failed) with 5.4.6,
//! where OpenSMTPD answers 500 (a command-syntax code for a content
//! problem). 5.1.7 is RFC 3463's code for a bad sender address, 5.1.3 for a
//! bad destination address.

use crate::error::{CommandError, ContentError};
use crate::path::PathError;
use crate::reply::Reply;

/// The 354 that invites the content after DATA.
pub fn start_data() -> Reply {
    Reply::new(354, None, "Enter mail, end with \".\" on a line by itself")
}

impl CommandError {
    /// The reply the server gives for this error.
    pub fn reply(&self) -> Reply {
        match self {
            CommandError::LineTooLong => Reply::with_esc(500, (5, 5, 2), "Line too long"),
            CommandError::BadCharacter => {
                Reply::with_esc(500, (5, 5, 2), "Syntax error: control character in command")
            }
            CommandError::InvalidUtf8 => {
                Reply::with_esc(501, (5, 5, 2), "Syntax error: invalid UTF-8")
            }
            CommandError::UnknownCommand { .. } => {
                Reply::with_esc(500, (5, 5, 1), "Command unrecognized")
            }
            CommandError::Syntax { usage } => {
                Reply::with_esc(501, (5, 5, 4), format!("Syntax: {usage}"))
            }
            CommandError::InvalidHelo => Reply::with_esc(501, (5, 5, 4), "Invalid domain name"),
            CommandError::BadSender(PathError::Utf8NotAllowed)
            | CommandError::BadRecipient(PathError::Utf8NotAllowed) => {
                Reply::with_esc(553, (5, 6, 7), "Non-ASCII address requires SMTPUTF8")
            }
            CommandError::BadSender(e) => {
                Reply::with_esc(553, (5, 1, 7), format!("Sender address syntax error: {e}"))
            }
            CommandError::BadRecipient(e) => Reply::with_esc(
                553,
                (5, 1, 3),
                format!("Recipient address syntax error: {e}"),
            ),
            CommandError::UnknownParameter(name) => Reply::with_esc(
                555,
                (5, 5, 4),
                format!("Unsupported parameter {}", printable(name)),
            ),
            CommandError::UnsupportedValue(name) => {
                Reply::with_esc(555, (5, 5, 4), format!("Unsupported value for {name}"))
            }
            CommandError::BadParameter(name) => {
                Reply::with_esc(501, (5, 5, 4), format!("Invalid value for {name}"))
            }
            CommandError::DuplicateParameter(name) => {
                Reply::with_esc(501, (5, 5, 4), format!("Duplicate parameter {name}"))
            }
            CommandError::BadParameterSyntax => {
                Reply::with_esc(501, (5, 5, 4), "Malformed parameter")
            }
            CommandError::UnsupportedAuthMechanism(_) => {
                Reply::with_esc(504, (5, 5, 4), "Unrecognized authentication type")
            }
        }
    }
}

impl ContentError {
    /// The reply the server gives at the end of the data (or to the BDAT
    /// chunk where the problem showed).
    pub fn reply(&self) -> Reply {
        match self {
            ContentError::TooBig { limit } => Reply::with_esc(
                552,
                (5, 3, 4),
                format!("Message too big: limit is {limit} bytes"),
            ),
            ContentError::LineTooLong { limit } => Reply::with_esc(
                554,
                (5, 6, 0),
                format!("Message refused: line longer than {limit} bytes"),
            ),
            ContentError::Loop { .. } => Reply::with_esc(
                554,
                (5, 4, 6),
                "Routing loop detected: too many Received headers",
            ),
        }
    }
}

/// Echo at most 32 characters of a client-supplied name in a reply.
fn printable(s: &str) -> String {
    s.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(r: Reply) -> String {
        String::from_utf8(r.to_wire()).unwrap()
    }

    #[test]
    fn every_error_reply_has_an_enhanced_code_of_its_class() {
        let errors = [
            CommandError::LineTooLong,
            CommandError::BadCharacter,
            CommandError::InvalidUtf8,
            CommandError::UnknownCommand { verb: "X".into() },
            CommandError::Syntax { usage: "DATA" },
            CommandError::InvalidHelo,
            CommandError::BadSender(PathError::BadDomain),
            CommandError::BadRecipient(PathError::NullNotAllowed),
            CommandError::BadRecipient(PathError::Utf8NotAllowed),
            CommandError::UnknownParameter("X".into()),
            CommandError::UnsupportedValue("BODY"),
            CommandError::BadParameter("SIZE"),
            CommandError::DuplicateParameter("SIZE"),
            CommandError::BadParameterSyntax,
            CommandError::UnsupportedAuthMechanism("X".into()),
        ];
        for e in errors {
            let r = e.reply();
            let esc = r.esc.expect("every error reply carries an enhanced code");
            assert_eq!(esc.class as u16, r.code / 100, "{e:?}");
            assert!(r.is_permanent());
        }
        for e in [
            ContentError::TooBig { limit: 1 },
            ContentError::LineTooLong { limit: 1 },
            ContentError::Loop { count: 100 },
        ] {
            let r = e.reply();
            assert_eq!(r.esc.map(|e| e.class), Some(5));
        }
    }

    #[test]
    fn exact_texts_of_the_main_replies() {
        assert_eq!(
            wire(CommandError::LineTooLong.reply()),
            "500 5.5.2 Line too long\r\n"
        );
        assert_eq!(
            wire(CommandError::BadRecipient(PathError::Utf8NotAllowed).reply()),
            "553 5.6.7 Non-ASCII address requires SMTPUTF8\r\n"
        );
        assert_eq!(
            wire(ContentError::TooBig { limit: 10 }.reply()),
            "552 5.3.4 Message too big: limit is 10 bytes\r\n"
        );
        assert_eq!(
            wire(CommandError::UnknownParameter("FOO".into()).reply()),
            "555 5.5.4 Unsupported parameter FOO\r\n"
        );
    }
}
