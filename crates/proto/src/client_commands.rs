//! Client side: commands written to a server (relay, LMTP delivery, bounce
//! injection). The same [`Command`] type the server parses is written
//! here, so `parse_command(cmd.to_wire())` gives `cmd` back (tested).
//!
//! Writing is fallible on purpose: a value that would put a control
//! character on the wire (a CR or LF in a HELO name, an address from a
//! table, a SASL response) is refused rather than sent, so no data we
//! carry can inject a command into a session with a peer.

use crate::command::{Command, MailFrom, RcptTo};
use crate::ehlo::Capabilities;
use crate::error::EncodeError;
use crate::limits::MAX_COMMAND_LINE;
use crate::params::{xtext_encode, MailParams, RcptParams};
use crate::path::{format_path, Recipient};
use smtpd_types::DsnNotify;

fn mail_line(m: &MailFrom) -> String {
    let mut s = String::from("MAIL FROM:");
    match &m.sender {
        Some(a) => s.push_str(&format_path(a)),
        None => s.push_str("<>"),
    }
    let p = &m.params;
    if let Some(n) = p.size {
        s.push_str(&format!(" SIZE={n}"));
    }
    if let Some(b) = p.body {
        s.push_str(&format!(" BODY={}", b.as_str()));
    }
    if p.smtputf8 {
        s.push_str(" SMTPUTF8");
    }
    if let Some(r) = p.ret {
        s.push_str(&format!(" RET={}", r.as_str()));
    }
    if let Some(id) = &p.envid {
        s.push_str(&format!(" ENVID={}", xtext_encode(id)));
    }
    s
}

fn rcpt_line(r: &RcptTo) -> String {
    let mut s = String::from("RCPT TO:");
    match &r.rcpt {
        Recipient::Postmaster => s.push_str("<Postmaster>"),
        Recipient::Mailbox(a) => s.push_str(&format_path(a)),
    }
    if !r.params.notify.is_unset() {
        s.push_str(&format!(" NOTIFY={}", r.params.notify.to_param()));
    }
    if let Some(o) = &r.params.orcpt {
        s.push_str(&format!(" ORCPT={}", o.to_param()));
    }
    s
}

fn with_arg(verb: &str, arg: &str) -> String {
    format!("{verb} {arg}")
}

impl Command {
    /// The command line as sent, CRLF included.
    pub fn to_wire(&self) -> Result<Vec<u8>, EncodeError> {
        let line = match self {
            Command::Helo(h) => with_arg("HELO", h),
            Command::Ehlo(h) => with_arg("EHLO", h),
            Command::Lhlo(h) => with_arg("LHLO", h),
            Command::Mail(m) => mail_line(m),
            Command::Rcpt(r) => rcpt_line(r),
            Command::Data => "DATA".into(),
            Command::Bdat { size, last: false } => format!("BDAT {size}"),
            Command::Bdat { size, last: true } => format!("BDAT {size} LAST"),
            Command::Rset => "RSET".into(),
            Command::Noop => "NOOP".into(),
            Command::Help(None) => "HELP".into(),
            Command::Help(Some(t)) => with_arg("HELP", t),
            Command::Quit => "QUIT".into(),
            Command::Vrfy(a) => with_arg("VRFY", a),
            Command::Expn(a) => with_arg("EXPN", a),
            Command::StartTls => "STARTTLS".into(),
            Command::Auth {
                mechanism,
                initial_response: None,
            } => with_arg("AUTH", mechanism),
            Command::Auth {
                mechanism,
                initial_response: Some(ir),
            } => format!("AUTH {mechanism} {ir}"),
        };
        finish_line(line)
    }
}

/// Check a line for control characters and length, and add CRLF.
pub fn finish_line(line: String) -> Result<Vec<u8>, EncodeError> {
    if line.bytes().any(|c| c < 0x20 || c == 0x7f) {
        return Err(EncodeError::ControlCharacter);
    }
    if line.len() + 2 > MAX_COMMAND_LINE {
        return Err(EncodeError::TooLong {
            limit: MAX_COMMAND_LINE,
        });
    }
    let mut v = line.into_bytes();
    v.extend_from_slice(b"\r\n");
    Ok(v)
}

impl MailParams {
    /// The parameters a peer with these capabilities may be sent: DSN's
    /// only if it offers DSN, BODY only with 8BITMIME, SIZE only with
    /// SIZE. SMTPUTF8 is kept: a message that needs it cannot go to a peer
    /// without it, and that decision (bounce or downgrade) is the relay's.
    pub fn for_peer(&self, caps: &Capabilities) -> MailParams {
        MailParams {
            size: self.size.filter(|_| caps.size.is_some()),
            body: self.body.filter(|_| caps.eightbitmime),
            smtputf8: self.smtputf8,
            ret: self.ret.filter(|_| caps.dsn),
            envid: self.envid.clone().filter(|_| caps.dsn),
        }
    }
}

impl RcptParams {
    /// The parameters a peer with these capabilities may be sent.
    pub fn for_peer(&self, caps: &Capabilities) -> RcptParams {
        if caps.dsn {
            self.clone()
        } else {
            RcptParams {
                notify: DsnNotify::default(),
                orcpt: None,
            }
        }
    }
}
