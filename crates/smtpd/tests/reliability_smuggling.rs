//! SMTP smuggling: a message whose body holds a malformed end-of-data
//! sequence followed by a whole second transaction (MAIL FROM, RCPT TO,
//! DATA, a forged message) and then the real `CRLF.CRLF`. A server that ends
//! DATA anywhere but at the exact bytes CRLF.CRLF would queue the forged
//! message. For every such sequence this proves:
//!
//! - the server answers the end of data exactly once (one reply, then the
//!   221 to our QUIT): the smuggled commands were never commands;
//! - exactly one message arrives (the carrier), the forged recipient gets
//!   nothing, and the smuggled text is kept in the carrier as content;
//! - the stored message holds no CR at all (bare CR and bare LF are line
//!   ends, stored as LF).

mod support;

#[path = "support/maildirs.rs"]
mod maildirs;

use std::io::Read;
use std::time::Duration;

use support::Server;

const CONFIG: &str = r#"
listen on 127.0.0.1 port {PORT}
action "local" maildir "{DIR}/maildirs/%{dest.user:lowercase}" {CATCHALL}
match from any for domain "local.test" action "local"
"#;

/// The malformed end-of-data sequences, by name. NUL variants put a NUL
/// where a lenient parser might skip it.
const SEQUENCES: &[(&str, &[u8])] = &[
    ("lf-dot-lf", b"\n.\n"),
    ("lf-dot-crlf", b"\n.\r\n"),
    ("crlf-dot-lf", b"\r\n.\n"),
    ("cr-dot-cr", b"\r.\r"),
    ("cr-dot-lf", b"\r.\n"),
    ("lf-dot-cr", b"\n.\r"),
    ("cr-dot-crlf", b"\r.\r\n"),
    ("crlf-dot-cr", b"\r\n.\r"),
    ("cr-dot-cr-lf-split", b"\r\n.\r\r\n"),
    ("crlf-nul-dot-crlf", b"\r\n\0.\r\n"),
    ("crlf-dot-nul-crlf", b"\r\n.\0\r\n"),
    ("cr-nul-lf-dot-crlf", b"\r\0\n.\r\n"),
    ("crlf-dot-cr-nul-lf", b"\r\n.\r\0\n"),
];

/// The forged transaction hidden after the malformed sequence.
fn smuggled(name: &str) -> Vec<u8> {
    format!(
        "MAIL FROM:<forger@evil.test>\r\n\
         RCPT TO:<victim@local.test>\r\n\
         DATA\r\n\
         From: <ceo@local.test>\r\n\
         Subject: forged {name}\r\n\
         \r\n\
         smuggled body {name}\r\n"
    )
    .into_bytes()
}

/// Read every reply until the server closes the connection.
fn replies_until_eof(c: &mut support::client::Client) -> Vec<u16> {
    let mut codes = Vec::new();
    while let Some(r) = c.try_reply() {
        codes.push(r.code);
    }
    let mut rest = String::new();
    let _ = c.reader.read_to_string(&mut rest);
    codes
}

#[test]
fn malformed_end_of_data_never_smuggles_a_message() {
    let server = Server::start(CONFIG);
    let root = server.path("maildirs");
    let mut accepted = Vec::new();
    for (i, (name, seq)) in SEQUENCES.iter().enumerate() {
        let mut c = server.smtp();
        c.set_timeout(Duration::from_secs(20));
        c.hello();
        assert_eq!(c.cmd("MAIL FROM:<sender@client.test>").code, 250, "{name}");
        let carrier = format!("carrier{i}@local.test");
        assert_eq!(c.cmd(&format!("RCPT TO:<{carrier}>")).code, 250, "{name}");
        assert_eq!(c.cmd("DATA").code, 354, "{name}");
        let mut data = format!("Subject: carrier {name}\r\n\r\nbefore {name}").into_bytes();
        data.extend_from_slice(seq);
        data.extend_from_slice(&smuggled(name));
        data.extend_from_slice(b"after\r\n.\r\nQUIT\r\n");
        c.send_raw(&data);
        let codes = replies_until_eof(&mut c);
        assert_eq!(
            codes.len(),
            2,
            "{name}: one reply to the end of data, then 221 to QUIT; got {codes:?}"
        );
        assert_eq!(codes[1], 221, "{name}: {codes:?}");
        let end = codes[0];
        assert!(
            end == 250 || (500..600).contains(&end),
            "{name}: the end of data gets 250 or a refusal, not {end}"
        );
        if end == 250 {
            accepted.push((i, *name));
        }
    }

    // A last, honest message to the victim: once it is there, everything
    // queued before it has had its chance to arrive too.
    let mut c = server.smtp();
    c.hello();
    let r = c.send_mail(
        "sender@client.test",
        &["victim@local.test"],
        "Subject: marker\n\nmarker body\n",
    );
    assert_eq!(r.code, 250, "marker: {r:?}");
    c.cmd("QUIT");

    for (i, name) in &accepted {
        let dir = format!("carrier{i}");
        let got = maildirs::wait_for(&root, Duration::from_secs(30), |m| {
            // The whole Subject line: one name may be a prefix of another.
            maildirs::contains(m, format!("Subject: carrier {name}\n").as_bytes())
        });
        assert_eq!(
            got.as_deref(),
            Some(dir.as_str()),
            "{name}: carrier not delivered"
        );
        let msgs = support::mailbox::maildir(&root.join(&dir));
        assert_eq!(msgs.len(), 1, "{name}: exactly one message for the carrier");
        let m = &msgs[0];
        assert!(
            !m.contains(&b'\r'),
            "{name}: stored message holds a CR: {:?}",
            String::from_utf8_lossy(m)
        );
        assert!(
            maildirs::contains(m, b"MAIL FROM:<forger@evil.test>")
                && maildirs::contains(m, format!("smuggled body {name}").as_bytes())
                && maildirs::contains(m, b"after"),
            "{name}: the smuggled text must stay in the carrier, whole: {:?}",
            String::from_utf8_lossy(m)
        );
    }
    let marker = maildirs::wait_for(&root, Duration::from_secs(30), |m| {
        maildirs::contains(m, b"marker body")
    });
    assert_eq!(marker.as_deref(), Some("victim"), "marker not delivered");
    let victim = support::mailbox::maildir(&root.join("victim"));
    assert_eq!(
        victim.len(),
        1,
        "the victim must hold only the marker, nothing smuggled: {:?}",
        victim
            .iter()
            .map(|m| String::from_utf8_lossy(m).into_owned())
            .collect::<Vec<_>>()
    );
    // Nothing but carriers and the victim's marker arrived anywhere.
    let total = maildirs::all(&root).len();
    assert_eq!(total, accepted.len() + 1, "unexpected extra deliveries");
}

/// Bare LF and bare CR inside content are line ends: stored as LF lines,
/// with the lines around them intact.
#[test]
fn bare_cr_and_lf_in_content_are_stored_as_lf_lines() {
    let server = Server::start(CONFIG);
    let root = server.path("maildirs");
    let mut c = server.smtp();
    c.hello();
    assert_eq!(c.cmd("MAIL FROM:<sender@client.test>").code, 250);
    assert_eq!(c.cmd("RCPT TO:<bare@local.test>").code, 250);
    assert_eq!(c.cmd("DATA").code, 354);
    c.send_raw(b"Subject: bare\r\n\r\none\ntwo\rthree\r\n\rfour\n\r\n.\r\n");
    assert_eq!(c.reply().code, 250);
    c.cmd("QUIT");
    let got = maildirs::wait_for(&root, Duration::from_secs(30), |m| {
        maildirs::contains(m, b"Subject: bare")
    });
    assert_eq!(got.as_deref(), Some("bare"));
    let m = &support::mailbox::maildir(&root.join("bare"))[0];
    assert!(!m.contains(&b'\r'), "{:?}", String::from_utf8_lossy(m));
    assert!(
        maildirs::contains(m, b"\n\none\ntwo\nthree\n\nfour\n"),
        "{:?}",
        String::from_utf8_lossy(m)
    );
}
