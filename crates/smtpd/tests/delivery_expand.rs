//! Recipient expansion end to end: aliases(5) entries of every kind
//! (`user`, `user@domain`, `/file`, `"|command"`, `:include:`, `error:`),
//! virtual tables in OpenSMTPD's lookup order, loops and the depth limit,
//! sub-addresses with `sub-addr-delim`, `forward-only` and `expand-only`,
//! and the old grammar's `accept … alias <t> deliver to mbox`. Every
//! delivery is read back with Python's `mailbox`: one copy per final
//! recipient, body intact.

mod support;

use support::local::{fill, start_with, wait_delivered, wait_queue_empty};
use support::{message, pymail, Options, Server};

const FROM: &str = "alice@remote.test";

fn inbox(s: &Server, user: &str) -> Vec<pymail::Mail> {
    pymail::maildir(&s.path(&format!("home/{user}/Maildir")))
}

fn subjects(mails: &[pymail::Mail]) -> Vec<String> {
    let mut v: Vec<String> = mails
        .iter()
        .map(|m| m.header("Subject").unwrap_or("").to_string())
        .collect();
    v.sort();
    v
}

fn send(s: &Server, rcpt: &str, subject: &str, body: &[u8]) {
    let msg = message::message(FROM, rcpt, subject, body);
    message::send_one(s.port, FROM, &[rcpt], &msg);
}

/// An aliases(5) file with every kind of entry. Users, addresses, files
/// and commands each get one copy; an include is read in place; `error:`
/// refuses the recipient with its own reply, temporary or permanent.
#[test]
fn alias_entries_of_every_kind() {
    let aliases = "# aliases(5)\n\
        staff: joe, ann@local.test, {DIR}/out/staff.mbox, \"|cat > {DIR}/out/staff.pipe\"\n\
        team: :include:{DIR}/team.list\n\
        gone: error:550 5.1.1 This user has left\n\
        later: error:450 4.2.1 Mailbox busy so try later\n\
        plain: error:553 No such list\n";
    let team = "# the team\nbob\njoe, ann\n";
    let s = start_with(
        r#"table aliases file:{DIR}/aliases
listen on 127.0.0.1 port {PORT}
action "md" maildir alias <aliases> userbase <users>
match from any for domain "local.test" action "md"
"#,
        Options::default(),
        |dir| {
            std::fs::write(dir.join("aliases"), fill(aliases, dir)).unwrap();
            std::fs::write(dir.join("team.list"), team).unwrap();
        },
    );
    let body = message::tricky_body();
    send(&s, "staff@local.test", "to-staff", &body);
    wait_delivered(&s, 4);
    send(&s, "team@local.test", "to-team", &body);
    wait_delivered(&s, 7);
    wait_queue_empty(&s);

    assert_eq!(subjects(&inbox(&s, "joe")), ["to-staff", "to-team"]);
    assert_eq!(subjects(&inbox(&s, "ann")), ["to-staff", "to-team"]);
    assert_eq!(subjects(&inbox(&s, "bob")), ["to-team"]);
    for m in inbox(&s, "joe") {
        assert_eq!(m.body(), &body[..]);
    }
    let filed = pymail::mbox(&s.path("out/staff.mbox"));
    assert_eq!(filed.len(), 1);
    assert_eq!(filed[0].body(), &message::mbox_quoted(&body)[..]);
    filed[0].assert_delivery_headers(FROM, "staff@local.test");
    let piped = std::fs::read(s.path("out/staff.pipe")).unwrap();
    assert!(piped.ends_with(&body), "the command got the whole message");
    assert!(piped.starts_with(b"Return-Path: <alice@remote.test>\n"));

    let r = message::rcpt_reply(s.port, FROM, "gone@local.test");
    assert_eq!(r.code, 550, "{r:?}");
    assert!(r.text().starts_with("5.1.1 This user has left"), "{r:?}");
    let r = message::rcpt_reply(s.port, FROM, "later@local.test");
    assert_eq!(r.code, 450, "{r:?}");
    assert!(
        r.text().starts_with("4.2.1 Mailbox busy so try later"),
        "{r:?}"
    );
    let r = message::rcpt_reply(s.port, FROM, "plain@local.test");
    assert_eq!(r.code, 553, "{r:?}");
    assert!(r.text().contains("No such list"), "{r:?}");
}

/// A missing include file is the administrator's mistake, fixable: the
/// recipient is refused temporarily, never silently dropped.
#[test]
fn missing_include_is_a_temporary_failure() {
    let s = start_with(
        r#"table aliases { "team" = ":include:{DIR}/nowhere.list" }
listen on 127.0.0.1 port {PORT}
action "md" maildir alias <aliases> userbase <users>
match from any for domain "local.test" action "md"
"#,
        Options::default(),
        |_| {},
    );
    let r = message::rcpt_reply(s.port, FROM, "team@local.test");
    assert_eq!(r.code, 451, "{r:?}");
    assert!(
        s.log
            .wait_for("nowhere.list", std::time::Duration::from_secs(5)),
        "{}",
        s.log.text()
    );
}

/// Virtual lookups try `user@domain`, then `user`, then `@domain`, then
/// `@`: each recipient below is caught by a different key.
#[test]
fn virtual_lookup_order() {
    let s = start_with(
        r#"table vdoms { "v.test", "w.test" }
table vt { "joe@v.test" = "joe", "joe" = "ann", "@v.test" = "bob", "@" = "joe@local.test" }
listen on 127.0.0.1 port {PORT}
action "virt" maildir virtual <vt> userbase <users>
action "md" maildir userbase <users>
match from any for domain <vdoms> action "virt"
match from any for domain "local.test" action "md"
"#,
        Options::default(),
        |_| {},
    );
    let body = b"virtual\n";
    send(&s, "joe@v.test", "user-at-domain", body);
    send(&s, "joe@w.test", "user", body);
    send(&s, "zed@v.test", "at-domain", body);
    send(&s, "zed@w.test", "catch-all", body);
    wait_delivered(&s, 4);
    wait_queue_empty(&s);
    assert_eq!(subjects(&inbox(&s, "joe")), ["catch-all", "user-at-domain"]);
    assert_eq!(subjects(&inbox(&s, "ann")), ["user"]);
    assert_eq!(subjects(&inbox(&s, "bob")), ["at-domain"]);
    // Delivered-To names the recipient as the client gave it.
    let joe = inbox(&s, "joe");
    let caught = joe
        .iter()
        .find(|m| m.header("Subject") == Some("catch-all"))
        .unwrap();
    assert_eq!(caught.header("Delivered-To"), Some("zed@w.test"));
}

/// Alias loops end (each final recipient gets one copy), an alias naming
/// itself means the user's own mailbox, and a chain deeper than the limit
/// (10, as OpenSMTPD) is refused permanently.
#[test]
fn alias_loops_and_depth_limit() {
    let mut aliases = String::from(
        "loop1: loop2, joe\nloop2: loop1, ann\njoe: joe, bob\nshort1: short2\nshort2: short3\nshort3: ann\n",
    );
    for i in 1..12 {
        aliases.push_str(&format!("deep{i}: deep{}\n", i + 1));
    }
    aliases.push_str("deep12: joe\n");
    let s = start_with(
        r#"table aliases file:{DIR}/aliases
listen on 127.0.0.1 port {PORT}
action "md" maildir alias <aliases> userbase <users>
match from any for domain "local.test" action "md"
"#,
        Options::default(),
        |dir| std::fs::write(dir.join("aliases"), aliases).unwrap(),
    );
    send(&s, "loop1@local.test", "loop", b"loop\n");
    // loop1 → loop2, joe; loop2 → loop1 (seen), ann; joe → joe (own
    // mailbox), bob.
    wait_delivered(&s, 3);
    send(&s, "short1@local.test", "short", b"chain\n");
    wait_delivered(&s, 4);
    wait_queue_empty(&s);
    assert_eq!(subjects(&inbox(&s, "joe")), ["loop"]);
    assert_eq!(subjects(&inbox(&s, "ann")), ["loop", "short"]);
    assert_eq!(subjects(&inbox(&s, "bob")), ["loop"]);

    let r = message::rcpt_reply(s.port, FROM, "deep1@local.test");
    assert_eq!(r.code, 550, "{r:?}");
    assert!(r.text().starts_with("5.4.6 "), "{r:?}");
}

/// `smtp sub-addr-delim "-"`: `joe-lists` is joe with the tag `lists`
/// (filed into the existing `.lists` folder), the tagged alias key is
/// tried before the bare one, and `+` is an ordinary character then.
#[test]
fn sub_address_delimiter() {
    let s = start_with(
        r#"smtp sub-addr-delim "-"
table aliases { "ann-x" = "bob" }
listen on 127.0.0.1 port {PORT}
action "md" maildir alias <aliases> userbase <users>
match from any for domain "local.test" action "md"
"#,
        Options::default(),
        |dir| std::fs::create_dir_all(dir.join("home/joe/Maildir/.lists")).unwrap(),
    );
    send(&s, "joe-lists@local.test", "tagged", b"tagged\n");
    send(&s, "ann-x@local.test", "alias-tagged", b"x\n");
    send(&s, "ann-y@local.test", "alias-bare", b"y\n");
    wait_delivered(&s, 3);
    let lists = pymail::maildir(&s.path("home/joe/Maildir/.lists"));
    assert_eq!(subjects(&lists), ["tagged"]);
    assert!(inbox(&s, "joe").is_empty());
    assert_eq!(subjects(&inbox(&s, "bob")), ["alias-tagged"]);
    assert_eq!(subjects(&inbox(&s, "ann")), ["alias-bare"]);
    let r = message::rcpt_reply(s.port, FROM, "joe+lists@local.test");
    assert_eq!(r.code, 550, "{r:?}");
}

/// `forward-only` accepts a recipient only when its aliases or `.forward`
/// lead to other addresses (tempfail otherwise: files, commands and plain
/// mailboxes are not allowed); `expand-only` accepts any delivery an alias
/// or `.forward` gives, and refuses (permanently) a user who has none.
#[test]
fn forward_only_and_expand_only() {
    let s = start_with(
        r#"table fwd { "list" = "joe@local.test", "tofile" = "{DIR}/out/x.mbox", "prog" = "|cat > /dev/null" }
table exp { "prog" = "|cat > {DIR}/out/exp.out" }
listen on 127.0.0.1 port {PORT}
action "md" maildir userbase <users>
action "fwd" forward-only alias <fwd> userbase <users>
action "exp" expand-only alias <exp> userbase <users>
match from any for domain "local.test" action "md"
match from any for domain "fwd.test" action "fwd"
match from any for domain "exp.test" action "exp"
"#,
        Options::default(),
        |dir| std::fs::write(dir.join("home/bob/.forward"), "ann@local.test\n").unwrap(),
    );
    for rcpt in ["tofile@fwd.test", "prog@fwd.test", "ann@fwd.test"] {
        let r = message::rcpt_reply(s.port, FROM, rcpt);
        assert_eq!(r.code, 451, "{rcpt}: {r:?}");
    }
    let r = message::rcpt_reply(s.port, FROM, "ann@exp.test");
    assert_eq!(r.code, 550, "{r:?}");

    send(&s, "list@fwd.test", "fwd-alias", b"1\n");
    send(&s, "bob@fwd.test", "fwd-forward", b"2\n");
    send(&s, "prog@exp.test", "exp-alias", b"3\n");
    send(&s, "bob@exp.test", "exp-forward", b"4\n");
    wait_delivered(&s, 4);
    wait_queue_empty(&s);
    assert_eq!(subjects(&inbox(&s, "joe")), ["fwd-alias"]);
    assert_eq!(subjects(&inbox(&s, "ann")), ["exp-forward", "fwd-forward"]);
    assert!(inbox(&s, "bob").is_empty());
    let out = std::fs::read(s.path("out/exp.out")).unwrap();
    assert!(out.ends_with(b"Subject: exp-alias\nMessage-ID: <exp-alias@test>\n\n3\n"));
    assert!(!s.path("out/x.mbox").exists());
}

/// The old grammar: `accept … alias <t> userbase <t> deliver to mbox`.
#[test]
fn old_grammar_alias_to_mbox() {
    let s = start_with(
        r#"table aliases { "postmaster" = "joe", "all" = "joe, ann" }
listen on 127.0.0.1 port {PORT}
accept from any for domain "local.test" alias <aliases> userbase <users> deliver to mbox
"#,
        Options::default(),
        |_| {},
    );
    let body = message::tricky_body();
    send(&s, "all@local.test", "to-all", &body);
    send(&s, "postmaster@local.test", "to-postmaster", &body);
    wait_delivered(&s, 3);
    wait_queue_empty(&s);
    let joe = pymail::mbox(&s.path("mail/joe"));
    let ann = pymail::mbox(&s.path("mail/ann"));
    assert_eq!(subjects(&joe), ["to-all", "to-postmaster"]);
    assert_eq!(subjects(&ann), ["to-all"]);
    for m in joe.iter().chain(&ann) {
        assert_eq!(m.body(), &message::mbox_quoted(&body)[..]);
    }
}
