//! Messages as bytes for the delivery tests: a body that exercises every
//! transparency rule (dot stuffing, 8-bit bytes, `From ` lines), sending
//! it over SMTP byte for byte, and what a final delivery must hold.

use super::client::{Client, Reply};

/// A body with the lines that break naive deliveries: leading dots (SMTP
/// dot stuffing), a lone dot, a `From ` line (mbox quoting), one already
/// quoted `>From `, 8-bit bytes that are not UTF-8, trailing spaces and an
/// empty line.
pub fn tricky_body() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"First line.\n");
    b.extend_from_slice(b".leading dot\n");
    b.extend_from_slice(b"..two dots\n");
    b.extend_from_slice(b".\n");
    b.extend_from_slice(b"From the start of a line\n");
    b.extend_from_slice(b">From already quoted\n");
    b.extend_from_slice(b"8-bit: caf\xe9 \xff\xfe na\xc3\xafve\n");
    b.extend_from_slice(b"trailing spaces   \n");
    b.extend_from_slice(b"\n");
    b.extend_from_slice(b"Last line.\n");
    b
}

/// The same body as an mbox reader sees it: the mboxrd quoting of lines
/// starting `>*From ` stays (Python's `mailbox` does not undo it).
pub fn mbox_quoted(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in body.split_inclusive(|b| *b == b'\n') {
        let gts = line.iter().take_while(|b| **b == b'>').count();
        if line[gts..].starts_with(b"From ") {
            out.push(b'>');
        }
        out.extend_from_slice(line);
    }
    out
}

/// A whole message (LF line ends) with a unique subject.
pub fn message(from: &str, to: &str, subject: &str, body: &[u8]) -> Vec<u8> {
    let mut m =
        format!("From: <{from}>\nTo: <{to}>\nSubject: {subject}\nMessage-ID: <{subject}@test>\n\n")
            .into_bytes();
    m.extend_from_slice(body);
    m
}

/// The message as DATA content: CRLF line ends, dots stuffed, the final
/// `.` line.
pub fn data_bytes(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let text = message.strip_suffix(b"\n").unwrap_or(message);
    for line in text.split(|b| *b == b'\n') {
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// MAIL, RCPTs (each must be accepted), DATA and the content; the reply to
/// the end of data.
pub fn send(c: &mut Client, from: &str, rcpts: &[&str], message: &[u8]) -> Reply {
    let r = c.cmd(&format!("MAIL FROM:<{from}>"));
    assert_eq!(r.code, 250, "MAIL: {r:?}");
    for rc in rcpts {
        let r = c.cmd(&format!("RCPT TO:<{rc}>"));
        assert_eq!(r.code, 250, "RCPT {rc}: {r:?}");
    }
    let r = c.cmd("DATA");
    assert_eq!(r.code, 354, "DATA: {r:?}");
    c.send_raw(&data_bytes(message));
    c.reply()
}

/// Connect, greet, send one message, expect 250, quit.
pub fn send_one(port: u16, from: &str, rcpts: &[&str], message: &[u8]) {
    let mut c = Client::connect(("127.0.0.1", port));
    c.hello();
    let r = send(&mut c, from, rcpts, message);
    assert_eq!(r.code, 250, "end of data: {r:?}");
    c.cmd("QUIT");
}

/// The reply to one RCPT (after MAIL), for recipients expected to fail.
pub fn rcpt_reply(port: u16, from: &str, rcpt: &str) -> Reply {
    let mut c = Client::connect(("127.0.0.1", port));
    c.hello();
    let r = c.cmd(&format!("MAIL FROM:<{from}>"));
    assert_eq!(r.code, 250, "MAIL: {r:?}");
    let r = c.cmd(&format!("RCPT TO:<{rcpt}>"));
    c.cmd("QUIT");
    r
}
