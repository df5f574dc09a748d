//! The `Received:` header the server adds to every message it accepts
//! (RFC 5321 §4.4), in OpenSMTPD's layout.

use chrono::Local;
use smtpd_types::MsgId;

/// What the header says about the session.
pub struct Trace<'a> {
    pub helo: &'a str,
    pub rdns: Option<&'a str>,
    pub client: &'a str,
    /// `mask-src`: leave out where the message came from.
    pub mask_src: bool,
    pub by: &'a str,
    pub esmtp: bool,
    pub tls: bool,
    pub auth: bool,
    /// `received-auth`: say whether and as whom the client authenticated
    /// (`Some(None)`: it did not).
    pub auth_note: Option<Option<&'a str>>,
    pub utf8: bool,
    pub msgid: MsgId,
    /// The recipient, when the message has exactly one.
    pub for_rcpt: Option<String>,
}

/// The header, folded, with LF line ends (content is stored LF-normalised).
pub fn header(t: &Trace<'_>) -> String {
    let mut h = String::from("Received: ");
    if !t.mask_src {
        let rdns = t.rdns.unwrap_or("");
        if rdns.is_empty() {
            h.push_str(&format!("from {} ([{}])\n\t", sanitize(t.helo), t.client));
        } else {
            h.push_str(&format!(
                "from {} ({} [{}])\n\t",
                sanitize(t.helo),
                rdns,
                t.client
            ));
        }
    }
    let mut with = String::new();
    if t.utf8 {
        with.push_str("UTF8");
    }
    with.push_str(if t.esmtp { "ESMTP" } else { "SMTP" });
    if t.tls {
        with.push('S');
    }
    if t.auth {
        with.push('A');
    }
    h.push_str(&format!("by {} (smtpd) with {} id {}", t.by, with, t.msgid));
    match t.auth_note {
        Some(Some(user)) => h.push_str(&format!(" auth=yes user={}", sanitize(user))),
        Some(None) => h.push_str(" auth=no"),
        None => {}
    }
    if let Some(r) = &t.for_rcpt {
        h.push_str(&format!("\n\tfor <{}>", sanitize(r)));
    }
    h.push_str(&format!(
        ";\n\t{}\n",
        Local::now().format("%a, %d %b %Y %H:%M:%S %z")
    ));
    h
}

/// Client-given text must not break the header.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || c == '(' || c == ')' {
                '?'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let h = header(&Trace {
            helo: "client.test",
            rdns: Some("host.test"),
            client: "127.0.0.1",
            mask_src: false,
            by: "mx.test",
            esmtp: true,
            tls: false,
            auth: false,
            auth_note: None,
            utf8: false,
            msgid: MsgId(0xabc),
            for_rcpt: Some("a@b".into()),
        });
        assert!(h.starts_with("Received: from client.test (host.test [127.0.0.1])\n\tby mx.test (smtpd) with ESMTP id 00000abc\n\tfor <a@b>;\n\t"));
        assert!(h.ends_with('\n'));
        let masked = header(&Trace {
            helo: "x\r\ninjected",
            rdns: None,
            client: "1.2.3.4",
            mask_src: true,
            by: "mx",
            esmtp: false,
            tls: true,
            auth: true,
            auth_note: None,
            utf8: false,
            msgid: MsgId(1),
            for_rcpt: None,
        });
        assert!(masked.starts_with("Received: by mx (smtpd) with SMTPSA id 00000001;"));
        assert!(!masked.contains("injected"));
        let t = |auth_note| Trace {
            helo: "c",
            rdns: None,
            client: "1.2.3.4",
            mask_src: true,
            by: "mx",
            esmtp: true,
            tls: true,
            auth: true,
            auth_note,
            utf8: false,
            msgid: MsgId(2),
            for_rcpt: None,
        };
        assert!(header(&t(Some(Some("bob(x)"))))
            .starts_with("Received: by mx (smtpd) with ESMTPSA id 00000002 auth=yes user=bob?x?;"));
        assert!(header(&t(Some(None))).contains("id 00000002 auth=no;"));
    }
}
