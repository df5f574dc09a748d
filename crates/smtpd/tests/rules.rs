//! The rule engine over real sessions: which rule takes a recipient (read
//! from the `dispatcher:` of the queued envelope, delivery paused), every
//! condition of both grammars, `for local`, sub-addressing, table errors,
//! reverse DNS, and no open relay with OpenSMTPD's shipped default rules.

mod support;

use std::time::{Duration, Instant};
use support::client::{Client, Reply};
use support::dns::{FakeDns, SilentDns};
use support::source::connect_from;
use support::{conf, mailbox, spool, Options, Server};

/// Start with delivery paused (`-P mda`) and `extra` arguments.
fn start_paused(config: &str, mut extra: Vec<String>) -> Server {
    extra.extend(["-P".into(), "mda".into()]);
    Server::start_opts(
        config,
        Options {
            args: extra,
            ..Default::default()
        },
    )
}

/// The envelopes of the message `msgid` (its queue directory).
fn envelopes_of(server: &Server, msgid: &str) -> Vec<std::collections::HashMap<String, String>> {
    let dir = server.path("spool/queue").join(&msgid[..2]).join(msgid);
    support::read_dir_names(&dir)
        .into_iter()
        .filter(|n| n != "message")
        .map(|n| spool::envelope_fields(&dir.join(n)))
        .collect()
}

/// Send one message to `rcpt` on a session already greeted; `Ok(action)`
/// names the action that took it, `Err(reply)` is the RCPT refusal.
fn route(c: &mut Client, server: &Server, from: &str, rcpt: &str) -> Result<String, Reply> {
    let r = c.cmd(&format!("MAIL FROM:<{from}>"));
    assert_eq!(r.code, 250, "MAIL FROM:<{from}>: {r:?}");
    let r = c.cmd(&format!("RCPT TO:<{rcpt}>"));
    if r.code != 250 {
        assert_eq!(c.cmd("RSET").code, 250);
        return Err(r);
    }
    assert_eq!(c.cmd("DATA").code, 354);
    c.send_raw(b"Subject: route\r\n\r\nx\r\n.\r\n");
    let done = c.reply();
    assert_eq!(done.code, 250, "{done:?}");
    let msgid = done.text().split(' ').nth(1).unwrap_or("").to_string();
    let envs = envelopes_of(server, &msgid);
    assert_eq!(envs.len(), 1, "{envs:?}");
    Ok(envs[0]["dispatcher"].clone())
}

fn greeted(mut c: Client, helo: &str) -> Client {
    c.expect(220);
    let r = c.cmd(&format!("EHLO {helo}"));
    assert_eq!(r.code, 250);
    c
}

/// Actions named `names`, each delivering into `{DIR}/box/NAME/USER`.
fn actions(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| {
            format!(
                "action \"{n}\" maildir \"{{DIR}}/box/{n}/%{{user.username}}\" userbase <users>\n"
            )
        })
        .collect()
}

fn refused(r: Result<String, Reply>, code: u16, esc: &str) {
    match r {
        Ok(a) => panic!("accepted by {a}, expected {code} {esc}"),
        Err(r) => {
            assert_eq!(r.code, code, "{r:?}");
            assert!(r.text().starts_with(esc), "{r:?}");
        }
    }
}

#[test]
fn first_match_wins_over_every_condition() {
    let port2 = support::free_port();
    let config = format!(
        "{users}\
         listen on 127.0.0.1 port {{PORT}}\n\
         listen on 127.0.0.1 port {port2} tag TAGGED\n\
         table vips {{ \"boss@example.com\" }}\n\
         table trusted {{ \"127.0.0.3\" }}\n\
         {acts}\
         match tag TAGGED from any for domain \"local.test\" action \"tagged\"\n\
         match from any mail-from <vips> for domain \"local.test\" action \"vip\"\n\
         match from any helo \"special.test\" for domain \"local.test\" action \"helo\"\n\
         match from any for rcpt-to regex \"^bob\\+r[0-9]+@local\\.test$\" action \"regex\"\n\
         match from any mail-from regex \"^[a-z]+@regex\\.example$\" for domain \"local.test\" action \"regex-from\"\n\
         match from src <trusted> for domain \"local.test\" action \"src\"\n\
         match from any for rcpt-to \"alice@local.test\" action \"first\"\n\
         match from any for rcpt-to \"alice@local.test\" action \"second\"\n\
         match from any !mail-from \"blocked@example.com\" for domain \"neg.test\" action \"neg\"\n\
         match from any for domain \"neg.test\" reject\n\
         match from local for domain \"local.test\" action \"local\"\n\
         match from any for domain \"local.test\" action \"any\"\n\
         match from any for any action \"relay\"\n",
        users = conf::userbase(&["alice", "bob"]),
        acts = actions(&[
            "tagged",
            "vip",
            "helo",
            "regex",
            "regex-from",
            "src",
            "first",
            "second",
            "neg",
            "local",
            "any",
        ]) + "action \"relay\" relay\n",
    );
    let mut extra = support::dns::no_names();
    extra.extend(["-P".into(), "mta".into()]);
    let server = start_paused(&config, extra);
    let port = server.port;

    let mut c = greeted(server.smtp(), "client.test");
    // First match wins: two rules for alice, the first one takes her.
    assert_eq!(
        route(&mut c, &server, "s@example.com", "alice@local.test").unwrap(),
        "first"
    );
    // 127.0.0.1 is an interface address: `from local`.
    assert_eq!(
        route(&mut c, &server, "s@example.com", "bob@local.test").unwrap(),
        "local"
    );
    // mail-from with a table; it comes before the rcpt-to rule for alice.
    assert_eq!(
        route(&mut c, &server, "boss@example.com", "alice@local.test").unwrap(),
        "vip"
    );
    assert_eq!(
        route(&mut c, &server, "BOSS@example.com", "bob@local.test").unwrap(),
        "vip"
    );
    // Regex operands on rcpt-to and mail-from.
    assert_eq!(
        route(&mut c, &server, "s@example.com", "bob+r42@local.test").unwrap(),
        "regex"
    );
    assert_eq!(
        route(&mut c, &server, "s@example.com", "bob+rx@local.test").unwrap(),
        "local"
    );
    assert_eq!(
        route(&mut c, &server, "abc@regex.example", "bob@local.test").unwrap(),
        "regex-from"
    );
    assert_eq!(
        route(&mut c, &server, "ab1@regex.example", "bob@local.test").unwrap(),
        "local"
    );
    // Negation, then an explicit reject.
    assert_eq!(
        route(&mut c, &server, "s@example.com", "alice@neg.test").unwrap(),
        "neg"
    );
    refused(
        route(&mut c, &server, "blocked@example.com", "alice@neg.test"),
        550,
        "5.",
    );
    // Anything else goes to the last rule (relay from anywhere here).
    assert_eq!(
        route(&mut c, &server, "s@example.com", "x@example.org").unwrap(),
        "relay"
    );

    // helo.
    let mut h = greeted(server.smtp(), "special.test");
    assert_eq!(
        route(&mut h, &server, "s@example.com", "bob@local.test").unwrap(),
        "helo"
    );
    // A tagged listener.
    let mut t = greeted(Client::connect(("127.0.0.1", port2)), "client.test");
    assert_eq!(
        route(&mut t, &server, "s@example.com", "bob@local.test").unwrap(),
        "tagged"
    );
    // from src, and a client that is not local (127.0.0.2 is not an
    // interface address of this host).
    let mut s3 = greeted(connect_from("127.0.0.3", port), "client.test");
    assert_eq!(
        route(&mut s3, &server, "s@example.com", "bob@local.test").unwrap(),
        "src"
    );
    let mut s2 = greeted(connect_from("127.0.0.2", port), "client.test");
    assert_eq!(
        route(&mut s2, &server, "s@example.com", "bob@local.test").unwrap(),
        "any"
    );
    // The session's mail-from, tag and helo are seen per rule.
    assert_eq!(
        route(&mut s2, &server, "boss@example.com", "bob@local.test").unwrap(),
        "vip"
    );
}

#[test]
fn old_grammar_rules() {
    let config = format!(
        "{users}\
         listen on 127.0.0.1 port {{PORT}}\n\
         table spammers {{ \"spam@example.com\" }}\n\
         reject from any sender <spammers> for any\n\
         accept from any for domain \"local.test\" userbase <users> deliver to maildir \"{{DIR}}/box/old/%{{user.username}}\"\n\
         accept for local userbase <users> deliver to maildir \"{{DIR}}/box/oldlocal/%{{user.username}}\"\n",
        users = conf::userbase(&["alice"]),
    );
    let server = start_paused(&config, support::dns::no_names());
    let mut c = greeted(server.smtp(), "client.test");
    let a = route(&mut c, &server, "s@example.com", "alice@local.test").unwrap();
    let b = route(&mut c, &server, "s@example.com", "alice@localhost").unwrap();
    assert_ne!(a, b, "two rules, two actions");
    refused(
        route(&mut c, &server, "spam@example.com", "alice@local.test"),
        550,
        "5.",
    );
    refused(
        route(&mut c, &server, "s@example.com", "x@example.org"),
        550,
        "5.7.1",
    );
    // `accept for local` means from local too.
    let mut out = greeted(connect_from("127.0.0.2", server.port), "client.test");
    refused(
        route(&mut out, &server, "s@example.com", "alice@localhost"),
        550,
        "5.",
    );
    assert_eq!(
        route(&mut out, &server, "s@example.com", "alice@local.test").unwrap(),
        a
    );
}

#[test]
fn for_local_and_subaddressing_deliver() {
    let server = Server::start_opts(
        &conf::local(
            &["alice"],
            "match from any for local action \"local\"\n\
             match from any for domain \"local.test\" action \"local\"\n",
        ),
        Options {
            args: support::dns::no_names(),
            ..Default::default()
        },
    );
    let mut c = server.smtp();
    let banner = c.expect(220);
    let server_name = banner.text().split(' ').next().unwrap().to_string();
    c.cmd("EHLO client.test");
    let rcpts = [
        "alice@localhost".to_string(),
        format!("alice@{server_name}"),
        "alice@[127.0.0.1]".to_string(),
        "alice@[IPv6:::1]".to_string(),
        "alice+lists@local.test".to_string(),
        "Alice+Other.Tag@LOCAL.TEST".to_string(),
    ];
    for rc in &rcpts {
        let r = c.send_mail("s@example.com", &[rc], &format!("Subject: to {rc}\n\nx"));
        assert_eq!(r.code, 250, "{rc}: {r:?}");
    }
    let r = c.cmd("MAIL FROM:<s@example.com>");
    assert_eq!(r.code, 250);
    let r = c.cmd("RCPT TO:<alice@[192.0.2.1]>");
    assert_eq!(r.code, 550, "not one of our addresses: {r:?}");
    let dir = server.path("mail/alice");
    assert!(support::eventually(Duration::from_secs(10), || {
        mailbox::maildir_count(&dir) == rcpts.len()
    }));
    let all: Vec<String> = mailbox::maildir(&dir)
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    for rc in &rcpts {
        assert!(
            all.iter()
                .any(|m| m.contains(&format!("Subject: to {rc}\n"))),
            "{rc} not delivered to alice"
        );
    }
}

#[test]
fn a_table_error_is_a_temporary_failure() {
    let dir = tempfile::Builder::new()
        .prefix("smtpd-test-")
        .tempdir()
        .unwrap();
    let src = dir.path().join("domains");
    std::fs::write(&src, "local.test\n").unwrap();
    let report =
        smtpd_table::makemap::build(&src, None, smtpd_table::makemap::MapType::Set).unwrap();
    let db = report.output;
    let config = format!(
        "{users}\
         listen on 127.0.0.1 port {{PORT}}\n\
         table domains db:{{DIR}}/domains.db\n\
         {acts}\
         match from any for domain <domains> action \"local\"\n",
        users = conf::userbase(&["alice"]),
        acts = actions(&["local"]),
    );
    let server = Server::start_in(
        dir,
        &config,
        Options {
            args: support::dns::no_names(),
            ..Default::default()
        },
    );
    let mut c = greeted(server.smtp(), "client.test");
    assert_eq!(c.cmd("MAIL FROM:<s@example.com>").code, 250);
    assert_eq!(c.cmd("RCPT TO:<alice@local.test>").code, 250);
    // The database disappears: lookups fail, recipients are deferred.
    let saved = std::fs::read(&db).unwrap();
    std::fs::remove_file(&db).unwrap();
    let r = c.cmd("RCPT TO:<alice@local.test>");
    assert_eq!(r.code, 451, "{r:?}");
    assert!(r.text().starts_with("4."), "{r:?}");
    // Back again: accepted again.
    std::fs::write(&db, saved).unwrap();
    let r = c.cmd("RCPT TO:<alice@local.test>");
    assert_eq!(r.code, 250, "{r:?}");
}

/// OpenSMTPD's shipped smtpd.conf, with the listener moved to a test port.
const OPENSMTPD_DEFAULT: &str = "\
table aliases file:{DIR}/aliases
listen on 127.0.0.1 port {PORT}
action \"local\" maildir alias <aliases>
action \"relay\" relay
match for local action \"local\"
match from local for any action \"relay\"
";

#[test]
fn no_open_relay_with_opensmtpd_default_rules() {
    let dir = tempfile::Builder::new()
        .prefix("smtpd-test-")
        .tempdir()
        .unwrap();
    std::fs::write(dir.path().join("aliases"), "postmaster: root\n").unwrap();
    // Nothing is delivered or relayed: only the decisions are looked at.
    let mut args = support::dns::no_names();
    args.extend(["-P".into(), "mda".into(), "-P".into(), "mta".into()]);
    let server = Server::start_in(
        dir,
        OPENSMTPD_DEFAULT,
        Options {
            args,
            ..Default::default()
        },
    );
    // From outside (127.0.0.2 is not an interface address): nothing is
    // accepted, neither for other domains nor for ours (`match for local`
    // means `from local`).
    let mut out = greeted(connect_from("127.0.0.2", server.port), "outside.test");
    for rc in [
        "victim@example.org",
        "user@[127.0.0.2]",
        "postmaster@localhost",
    ] {
        refused(
            route(&mut out, &server, "spammer@example.net", rc),
            550,
            "5.",
        );
    }
    refused(
        route(
            &mut out,
            &server,
            "spammer@example.net",
            "victim@example.org",
        ),
        550,
        "5.7.1",
    );
    // Source-routed and percent-hack addresses are no way around it.
    for rc in [
        "victim%example.org@localhost",
        "@localhost:victim@example.org",
    ] {
        let r = out.cmd("MAIL FROM:<s@example.net>");
        assert_eq!(r.code, 250);
        let r = out.cmd(&format!("RCPT TO:<{rc}>"));
        assert!(r.code >= 500, "{rc}: {r:?}");
        out.cmd("RSET");
    }
    // From this host: local mail and relaying are both allowed.
    let mut local = greeted(server.smtp(), "client.test");
    assert_eq!(
        route(&mut local, &server, "me@localhost", "root@localhost").unwrap(),
        "local"
    );
    assert_eq!(
        route(&mut local, &server, "me@localhost", "friend@example.org").unwrap(),
        "relay"
    );
}

#[test]
fn reverse_dns_names_rules_and_received() {
    let dns = FakeDns::start(&[
        ([127, 0, 0, 5].into(), "mx5.rdns.test", true),
        ([127, 0, 0, 6].into(), "liar.rdns.test", false),
    ]);
    let config = format!(
        "{users}\
         listen on 127.0.0.1 port {{PORT}}\n\
         {acts}\
         match from rdns \"mx5.rdns.test\" for domain \"local.test\" action \"exact\"\n\
         match from rdns regex \"\\.rdns\\.test$\" for domain \"local.test\" action \"regex\"\n\
         match from rdns for domain \"local.test\" action \"named\"\n\
         match from any for domain \"local.test\" action \"any\"\n",
        users = conf::userbase(&["alice"]),
        acts = actions(&["exact", "regex", "named", "any"]),
    );
    let server = start_paused(&config, dns.args());
    let cases = [
        ("127.0.0.5", "exact", Some("mx5.rdns.test")),
        ("127.0.0.6", "regex", Some("liar.rdns.test")),
        ("127.0.0.7", "any", None),
    ];
    for (src, action, name) in cases {
        let mut c = greeted(connect_from(src, server.port), "helo.test");
        let got = route(&mut c, &server, "s@example.com", "alice@local.test").unwrap();
        assert_eq!(got, action, "client {src}");
        let msgs = spool::queued_messages(&server.path("spool"));
        let received = msgs
            .iter()
            .map(|m| String::from_utf8_lossy(&spool::message_of(m)).into_owned())
            .find(|m| m.contains(&format!("[{src}])")))
            .expect("the message of this client");
        let want = match name {
            Some(n) => format!("Received: from helo.test ({n} [{src}])"),
            None => format!("Received: from helo.test ([{src}])"),
        };
        assert!(received.starts_with(&want), "{received}");
    }
}

#[test]
fn a_dead_resolver_does_not_stall_the_session() {
    let dns = SilentDns::start();
    // A `from rdns` rule makes RCPT wait for the name: the wait is bounded.
    let config = format!(
        "{users}\
         listen on 127.0.0.1 port {{PORT}}\n\
         {acts}\
         match from rdns for domain \"local.test\" action \"named\"\n\
         match from any for domain \"local.test\" action \"local\"\n",
        users = conf::userbase(&["alice"]),
        acts = actions(&["named", "local"]),
    );
    let server = start_paused(&config, dns.args());
    let t0 = Instant::now();
    let mut c = connect_from("127.0.0.9", server.port);
    // The banner does not wait for the reverse lookup.
    c.set_timeout(Duration::from_secs(1));
    let banner = c.reply();
    assert_eq!(banner.code, 220, "{banner:?}");
    let banner_time = t0.elapsed();
    c.set_timeout(Duration::from_secs(30));
    assert_eq!(c.cmd("EHLO client.test").code, 250);
    // The transaction goes on; the lookup's wait is bounded.
    let got = route(&mut c, &server, "s@example.com", "alice@local.test").unwrap();
    assert_eq!(got, "local");
    assert!(banner_time < Duration::from_secs(1), "{banner_time:?}");
    let msgs = spool::queued_messages(&server.path("spool"));
    let m = String::from_utf8_lossy(&spool::message_of(&msgs[0])).into_owned();
    assert!(
        m.starts_with("Received: from client.test ([127.0.0.9])"),
        "{m}"
    );
}
