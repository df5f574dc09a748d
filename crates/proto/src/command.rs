//! SMTP commands (RFC 5321 §4.1.1 and the extensions we offer), parsed from
//! one command line as [`crate::CommandBuffer`] yields it.
//!
//! Hand-written rather than smtp-proto's `Request::parse`, which accepts
//! arguments we must refuse (`DATA junk`, addresses with raw 8-bit bytes
//! outside SMTPUTF8, unchecked domains), unquotes local parts, and reports
//! errors without the data we need to pick an enhanced status code.
//!
//! Tolerances, each deliberate: verbs and `FROM:`/`TO:` in any case; spaces
//! or tabs (one or more) between tokens and at the end of the line (`MAIL
//! FROM: <a@b>` is common); with [`ParseOptions::unbracketed_paths`],
//! paths without angle brackets. What is refused: control characters
//! anywhere (NUL, bare CR), arguments on commands that take none, and every
//! malformed address or parameter.
//!
//! An unknown verb is the error [`CommandError::UnknownCommand`] (`500
//! 5.5.1`), not a variant of [`Command`]: the session handles it like any
//! other refused line (counting it against the client).

use crate::error::CommandError;
use crate::params::{parse_mail_params, parse_rcpt_params, MailParams, Offered, RcptParams};
use crate::path::{scan_path, valid_helo_name, PathError, PathKind, Recipient};
use smtpd_types::MailAddr;

/// MAIL FROM: the reverse path (`None` is `<>`) and its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailFrom {
    pub sender: Option<MailAddr>,
    pub params: MailParams,
}

/// RCPT TO: the forward path and its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RcptTo {
    pub rcpt: Recipient,
    pub params: RcptParams,
}

/// A parsed command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Helo(String),
    Ehlo(String),
    /// LMTP's greeting (RFC 2033). An SMTP session answers it as an unknown
    /// command; it is parsed so that LMTP test servers and the client
    /// encoder share this type.
    Lhlo(String),
    Mail(MailFrom),
    Rcpt(RcptTo),
    Data,
    /// RFC 3030: a chunk of `size` octets follows the command line at once.
    Bdat {
        size: u64,
        last: bool,
    },
    Rset,
    Noop,
    Help(Option<String>),
    Quit,
    Vrfy(String),
    Expn(String),
    StartTls,
    /// RFC 4954. The mechanism is upper case; the initial response is the
    /// base64 text as sent (`=` for an empty one).
    Auth {
        mechanism: String,
        initial_response: Option<String>,
    },
}

impl Command {
    /// The verb, upper case, for logs.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Helo(_) => "HELO",
            Command::Ehlo(_) => "EHLO",
            Command::Lhlo(_) => "LHLO",
            Command::Mail(_) => "MAIL",
            Command::Rcpt(_) => "RCPT",
            Command::Data => "DATA",
            Command::Bdat { .. } => "BDAT",
            Command::Rset => "RSET",
            Command::Noop => "NOOP",
            Command::Help(_) => "HELP",
            Command::Quit => "QUIT",
            Command::Vrfy(_) => "VRFY",
            Command::Expn(_) => "EXPN",
            Command::StartTls => "STARTTLS",
            Command::Auth { .. } => "AUTH",
        }
    }
}

/// What the parser needs to know about the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseOptions {
    /// The open transaction's MAIL FROM carried SMTPUTF8: RCPT TO may use
    /// UTF-8 addresses.
    pub utf8_transaction: bool,
    /// Accept paths without angle brackets (`MAIL FROM:user@x`), as some
    /// old or hand-written clients send. Off by default, as in OpenSMTPD:
    /// RFC 5321 requires the brackets and accepting more invites ambiguity
    /// about where the address ends.
    pub unbracketed_paths: bool,
    /// DSN is offered: NOTIFY, ORCPT, RET, ENVID are accepted.
    pub dsn: bool,
    /// SMTPUTF8 is offered: the MAIL parameter is accepted.
    pub smtputf8: bool,
    /// CHUNKING is offered: BDAT is a command (else an unknown one).
    pub chunking: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            utf8_transaction: false,
            unbracketed_paths: false,
            dsn: true,
            smtputf8: true,
            chunking: true,
        }
    }
}

const MAIL_USAGE: &str = "MAIL FROM:<address> [parameters]";
const RCPT_USAGE: &str = "RCPT TO:<address> [parameters]";

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&c| !is_space(c)).unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|&c| !is_space(c))
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

fn strict_utf8(b: &[u8]) -> Result<&str, CommandError> {
    std::str::from_utf8(b).map_err(|_| CommandError::InvalidUtf8)
}

/// Split on runs of spaces/tabs.
fn words(s: &str) -> Vec<&str> {
    s.split([' ', '\t']).filter(|w| !w.is_empty()).collect()
}

fn no_args(args: &[u8], cmd: Command, usage: &'static str) -> Result<Command, CommandError> {
    if args.is_empty() {
        Ok(cmd)
    } else {
        Err(CommandError::Syntax { usage })
    }
}

fn one_word<'a>(args: &'a [u8], usage: &'static str) -> Result<&'a str, CommandError> {
    let s = strict_utf8(args)?;
    match words(s).as_slice() {
        [w] => Ok(w),
        _ => Err(CommandError::Syntax { usage }),
    }
}

fn helo_arg(args: &[u8], usage: &'static str) -> Result<String, CommandError> {
    let host = one_word(args, usage)?;
    if !valid_helo_name(host) {
        return Err(CommandError::InvalidHelo);
    }
    Ok(host.to_string())
}

/// The text after `FROM:` / `TO:` (case-insensitive), leading spaces
/// skipped; `None` when the keyword is missing.
fn after_keyword<'a>(args: &'a str, kw: &str) -> Option<&'a str> {
    let head = args.get(..kw.len())?;
    if head.eq_ignore_ascii_case(kw) {
        Some(args[kw.len()..].trim_start_matches([' ', '\t']))
    } else {
        None
    }
}

fn parse_mail(args: &[u8], opts: &ParseOptions, offered: Offered) -> Result<Command, CommandError> {
    let args = strict_utf8(args)?;
    let path = after_keyword(args, "FROM:").ok_or(CommandError::Syntax { usage: MAIL_USAGE })?;
    if path.is_empty() {
        return Err(CommandError::Syntax { usage: MAIL_USAGE });
    }
    let sc = scan_path(path, opts.unbracketed_paths).map_err(CommandError::BadSender)?;
    let params = parse_mail_params(&path[sc.end..], offered)?;
    if sc.has_utf8 && !params.smtputf8 {
        return Err(CommandError::BadSender(PathError::Utf8NotAllowed));
    }
    let sender = match sc.kind {
        PathKind::Null => None,
        PathKind::Postmaster => return Err(CommandError::BadSender(PathError::NoDomain)),
        PathKind::Mailbox(a) => Some(a),
    };
    Ok(Command::Mail(MailFrom { sender, params }))
}

fn parse_rcpt(args: &[u8], opts: &ParseOptions, offered: Offered) -> Result<Command, CommandError> {
    let args = strict_utf8(args)?;
    let path = after_keyword(args, "TO:").ok_or(CommandError::Syntax { usage: RCPT_USAGE })?;
    if path.is_empty() {
        return Err(CommandError::Syntax { usage: RCPT_USAGE });
    }
    let sc = scan_path(path, opts.unbracketed_paths).map_err(CommandError::BadRecipient)?;
    if sc.has_utf8 && !opts.utf8_transaction {
        return Err(CommandError::BadRecipient(PathError::Utf8NotAllowed));
    }
    let rcpt = match sc.kind {
        PathKind::Null => return Err(CommandError::BadRecipient(PathError::NullNotAllowed)),
        PathKind::Postmaster => Recipient::Postmaster,
        PathKind::Mailbox(a) => Recipient::Mailbox(a),
    };
    let params = parse_rcpt_params(&path[sc.end..], offered)?;
    Ok(Command::Rcpt(RcptTo { rcpt, params }))
}

fn parse_bdat(args: &[u8]) -> Result<Command, CommandError> {
    const USAGE: &str = "BDAT chunk-size [LAST]";
    let s = strict_utf8(args)?;
    let (size, last) = match words(s).as_slice() {
        [size] => (*size, false),
        [size, last] if last.eq_ignore_ascii_case("LAST") => (*size, true),
        _ => return Err(CommandError::Syntax { usage: USAGE }),
    };
    if size.is_empty() || size.len() > 20 || !size.bytes().all(|c| c.is_ascii_digit()) {
        return Err(CommandError::Syntax { usage: USAGE });
    }
    let size = size
        .parse()
        .map_err(|_| CommandError::Syntax { usage: USAGE })?;
    Ok(Command::Bdat { size, last })
}

fn parse_auth(args: &[u8]) -> Result<Command, CommandError> {
    const USAGE: &str = "AUTH mechanism [initial-response]";
    let s = strict_utf8(args)?;
    let (mech, ir) = match words(s).as_slice() {
        [m] => (*m, None),
        [m, ir] => (*m, Some(*ir)),
        _ => return Err(CommandError::Syntax { usage: USAGE }),
    };
    // RFC 4422 §3.1: 1 to 20 of upper-case letters, digits, '-' and '_'.
    let mech_ok = (1..=20).contains(&mech.len())
        && mech
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
    let ir_ok = ir.is_none_or(|r| {
        r == "="
            || r.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/' || c == b'=')
    });
    if !mech_ok || !ir_ok {
        return Err(CommandError::Syntax { usage: USAGE });
    }
    Ok(Command::Auth {
        mechanism: mech.to_ascii_uppercase(),
        initial_response: ir.map(str::to_string),
    })
}

/// A free-text argument (VRFY, EXPN, HELP): any bytes, decoded lossily,
/// because the session only echoes or ignores it.
fn text_arg(args: &[u8]) -> String {
    String::from_utf8_lossy(args).into_owned()
}

/// Parse one command line (without its line ending).
pub fn parse_command(line: &[u8], opts: &ParseOptions) -> Result<Command, CommandError> {
    if line.iter().any(|&c| (c < 0x20 && c != b'\t') || c == 0x7f) {
        return Err(CommandError::BadCharacter);
    }
    let line = trim(line);
    let verb_end = line.iter().position(|&c| is_space(c)).unwrap_or(line.len());
    let (verb, args) = line.split_at(verb_end);
    let args = trim(args);
    let offered = Offered {
        dsn: opts.dsn,
        smtputf8: opts.smtputf8,
    };
    let upper = verb.to_ascii_uppercase();
    match upper.as_slice() {
        b"HELO" => Ok(Command::Helo(helo_arg(args, "HELO domain")?)),
        b"EHLO" => Ok(Command::Ehlo(helo_arg(args, "EHLO domain")?)),
        b"LHLO" => Ok(Command::Lhlo(helo_arg(args, "LHLO domain")?)),
        b"MAIL" => parse_mail(args, opts, offered),
        b"RCPT" => parse_rcpt(args, opts, offered),
        b"DATA" => no_args(args, Command::Data, "DATA"),
        b"BDAT" if opts.chunking => parse_bdat(args),
        b"RSET" => no_args(args, Command::Rset, "RSET"),
        b"NOOP" => Ok(Command::Noop),
        b"HELP" => Ok(Command::Help((!args.is_empty()).then(|| text_arg(args)))),
        b"QUIT" => no_args(args, Command::Quit, "QUIT"),
        b"VRFY" if !args.is_empty() => Ok(Command::Vrfy(text_arg(args))),
        b"VRFY" => Err(CommandError::Syntax {
            usage: "VRFY string",
        }),
        b"EXPN" if !args.is_empty() => Ok(Command::Expn(text_arg(args))),
        b"EXPN" => Err(CommandError::Syntax {
            usage: "EXPN string",
        }),
        b"STARTTLS" => no_args(args, Command::StartTls, "STARTTLS"),
        b"AUTH" => parse_auth(args),
        _ => Err(CommandError::UnknownCommand {
            verb: String::from_utf8_lossy(&verb[..verb.len().min(32)]).into_owned(),
        }),
    }
}
