//! No open relay. From an outside address (127.0.0.2), a battery of relay
//! tricks is tried against three configurations: a typical MX (mail for
//! the local domain from anyone, relaying only from 127.0.0.1), the
//! embedded default's rules, and OpenSMTPD's shipped default rules (which
//! relay `from local`; 127.0.0.2 is not an interface address, so it is not
//! local — as for OpenSMTPD, where `<localhost>` holds the interface
//! addresses). Every attempt must end either in a 5xx to its RCPT or in a
//! LOCAL delivery into the local domain's Maildirs; nothing may be queued
//! for relaying (no `type: mta` envelope in the spool right after the 250)
//! and nothing may reach the relay host (a sink recording every RCPT).

mod support;

#[path = "support/maildirs.rs"]
mod maildirs;
#[path = "support/smtp_sink.rs"]
mod smtp_sink;
#[path = "support/source_addr.rs"]
mod source_addr;
#[path = "support/spool_scan.rs"]
mod spool_scan;

use std::net::Ipv4Addr;
use std::time::Duration;

use smtp_sink::Sink;
use source_addr::{client_from, OUTSIDE};
use support::Server;

/// A typical MX: the local domain from anyone, relaying only for the
/// machine itself.
const MX: &str = r#"
listen on 127.0.0.1 port {PORT}
action "local" maildir "{DIR}/maildirs/%{dest.user:lowercase}" {CATCHALL}
action "outbound" relay host smtp://127.0.0.1:{SINK}
match from any for domain "local.test" action "local"
match from src 127.0.0.1 for any action "outbound"
"#;

/// The embedded default's rules: local names only, no relay action at all
/// (its listener is 127.0.0.1; `from any` so that the outside client gets
/// as far as the rules instead of being refused for where it comes from).
const EMBEDDED: &str = r#"
listen on 127.0.0.1 port {PORT}
action "local" maildir "{DIR}/maildirs/%{dest.user:lowercase}" {CATCHALL}
match from any for local action "local"
"#;

/// OpenSMTPD's shipped rules (mbox/aliases replaced by a Maildir).
const SHIPPED: &str = r#"
listen on 127.0.0.1 port {PORT}
action "local" maildir "{DIR}/maildirs/%{dest.user:lowercase}" {CATCHALL}
action "relay" relay host smtp://127.0.0.1:{SINK}
match for local action "local"
match from local for any action "relay"
"#;

/// The relay tricks, with `{D}` standing for the local domain. The outside
/// target of every trick is in other.test, relay.test or an IP literal
/// that is not ours.
const ATTEMPTS: &[&str] = &[
    "<victim@other.test>",
    "<victim%other.test@{D}>",
    "<\"victim%other.test\"@{D}>",
    "<victim%other.test>",
    "<@relay.test:victim@other.test>",
    "<@{D}:victim@other.test>",
    "<@{D},@relay.test:victim@other.test>",
    "<\"victim@other.test\"@{D}>",
    "<\"victim@other.test\">",
    "<victim@other.test@{D}>",
    "<victim@{D}@other.test>",
    "<other.test!victim@{D}>",
    "<other.test!victim>",
    "<victim@[192.0.2.1]>",
    "<victim@[IPv6:2001:db8::1]>",
    "<victim@other.test.>",
    "<victim@other.test..>",
    "<victim@.other.test>",
    "<victim@other.test.{D}.invalid>",
    "<victim@{D}.other.test>",
    "<victim@other.test >",
    "victim@other.test",
    "<victim@other.test\0@{D}>",
    "<victim@OTHER.TEST>",
    "<postmaster@other.test>",
];

/// What an attempt ended in.
#[derive(Debug)]
enum Fate {
    Refused(u16),
    Accepted { marker: String },
}

/// Try every trick from `src` with the sender `from`; a new session each.
fn attempt_all(server: &Server, src: Ipv4Addr, from: &str, domain: &str) -> Vec<(String, Fate)> {
    let spool = server.path("spool");
    let mut out = Vec::new();
    for (i, tmpl) in ATTEMPTS.iter().enumerate() {
        let rcpt = tmpl.replace("{D}", domain);
        let mut c = client_from(src, server.port);
        c.set_timeout(Duration::from_secs(20));
        c.hello();
        let r = c.cmd(&format!("MAIL FROM:<{from}>"));
        if r.code >= 500 {
            // Refusing a forged sender outright refuses the relay too.
            out.push((rcpt, Fate::Refused(r.code)));
            c.cmd("QUIT");
            continue;
        }
        assert_eq!(r.code, 250, "MAIL FROM:<{from}> from {src}: {r:?}");
        c.send_raw(b"RCPT TO:");
        c.send_raw(rcpt.as_bytes());
        let r = c.cmd("");
        if r.code >= 500 {
            out.push((rcpt, Fate::Refused(r.code)));
            c.cmd("QUIT");
            continue;
        }
        assert_eq!(r.code, 250, "{rcpt}: a RCPT gets 250 or 5xx, not {r:?}");
        let marker = format!("relay-attempt-{i}-{}", server.port);
        let r = c.cmd("DATA");
        assert_eq!(r.code, 354, "{rcpt}: {r:?}");
        c.send_raw(format!("Subject: {marker}\r\n\r\n{marker}\r\n.\r\n").as_bytes());
        let r = c.reply();
        c.cmd("QUIT");
        if r.code != 250 {
            out.push((rcpt, Fate::Refused(r.code)));
            continue;
        }
        // The 250 means envelopes are committed: a relay envelope would be
        // in the spool now.
        let relay = spool_scan::relay_envelopes(&spool);
        assert!(
            relay.is_empty(),
            "{rcpt} from {src} was queued for relaying: {relay:?}"
        );
        out.push((rcpt, Fate::Accepted { marker }));
    }
    out
}

/// Every accepted attempt must have been delivered locally; the sink must
/// have seen none of the outside recipients.
fn check(server: &Server, sink: &Sink, label: &str, fates: &[(String, Fate)]) {
    let root = server.path("maildirs");
    let mut table = String::new();
    for (rcpt, fate) in fates {
        match fate {
            Fate::Refused(code) => table.push_str(&format!("  {rcpt:45} refused {code}\n")),
            Fate::Accepted { marker } => {
                let m = marker.clone();
                let landed = maildirs::wait_for(&root, Duration::from_secs(30), |msg| {
                    maildirs::contains(msg, m.as_bytes())
                });
                table.push_str(&format!("  {rcpt:45} accepted, delivered to {landed:?}\n"));
                assert!(
                    landed.is_some(),
                    "{label}: {rcpt} was accepted but not delivered locally; \
                     relay envelopes: {:?}",
                    spool_scan::relay_envelopes(&server.path("spool"))
                );
            }
        }
    }
    eprintln!("{label}:\n{table}");
    let seen = sink.records.lines();
    let leaked: Vec<&String> = seen
        .iter()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.starts_with("rcpt")
                && (l.contains("other.test") || l.contains("192.0.2.1") || l.contains("2001:db8"))
        })
        .collect();
    assert!(
        leaked.is_empty(),
        "{label}: relayed to the sink: {leaked:?}"
    );
}

fn start(config: &str, sink: &Sink) -> Server {
    Server::start(&config.replace("{SINK}", &sink.port.to_string()))
}

#[test]
fn typical_mx_relays_nothing_for_outsiders() {
    let sink = Sink::start();
    let server = start(MX, &sink);
    let mut fates = attempt_all(&server, OUTSIDE, "attacker@evil.test", "local.test");
    // A forged local sender changes nothing.
    fates.extend(attempt_all(
        &server,
        OUTSIDE,
        "someone@local.test",
        "local.test",
    ));
    check(&server, &sink, "typical MX", &fates);
    // Outside to outside is refused outright.
    assert!(
        matches!(fates[0].1, Fate::Refused(c) if c >= 500),
        "outside to outside: {:?}",
        fates[0]
    );
}

#[test]
fn embedded_default_rules_relay_nothing() {
    let sink = Sink::start();
    let server = start(EMBEDDED, &sink);
    // The local names include localhost; try from outside and from inside.
    let mut fates = attempt_all(&server, OUTSIDE, "attacker@evil.test", "localhost");
    fates.extend(attempt_all(
        &server,
        Ipv4Addr::LOCALHOST,
        "user@localhost",
        "localhost",
    ));
    check(&server, &sink, "embedded default", &fates);
    assert!(
        matches!(fates[0].1, Fate::Refused(c) if c >= 500),
        "{:?}",
        fates[0]
    );
}

#[test]
fn shipped_default_rules_relay_nothing_for_127_0_0_2() {
    let sink = Sink::start();
    let server = start(SHIPPED, &sink);
    let fates = attempt_all(&server, OUTSIDE, "attacker@evil.test", "localhost");
    check(&server, &sink, "shipped default", &fates);
    assert!(
        matches!(fates[0].1, Fate::Refused(c) if c >= 500),
        "{:?}",
        fates[0]
    );
}
