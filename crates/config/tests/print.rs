//! `print`: today's grammar back, `parse(print(c)) == c` for today's
//! grammar, idempotence, and old rules converted with their meaning.

mod common;

use common::{ok, stripped};
use smtpd_config::*;

/// parse → print → parse gives the same model; print is idempotent.
fn round_trip(text: &str) -> String {
    let c = ok(text);
    let printed = print(&c);
    let again = ok(&printed);
    assert_eq!(
        stripped(c),
        stripped(again.clone()),
        "model changed:\n{printed}"
    );
    assert_eq!(print(&again), printed, "print not idempotent");
    printed
}

const EVERYTHING: &str = r#"
smtp max-message-size 10M
smtp limit max-rcpt 10 max-mails 20
smtp sub-addr-delim "-"
smtp ciphers "HIGH:!aNULL"
queue compression
queue encryption "0123456789abcdef0123456789abcdef"
queue ttl 3d
bounce warn-interval 1h, 2h
srs key "secret"
srs key backup "old secret"
srs ttl 5d
mta max-deferred 10
mta limit inet6 max-conn-per-host 3
mta limit for domain example.net max-conn-per-route 1
mda limit max-session 9
mda wrapper spam "/usr/bin/spamc -e %{mda}"
scheduler limit max-inflight 7 max-schedule 2
admd "mx.example.org"
table aliases file:/etc/mail/aliases
table db db:/etc/mail/db.db
table ext postgres:/etc/mail/pg.conf
table pw getpwnam
table lst { "a", "b c" }
table map { "k" = "v", "x" => "y" }
ca myca cert "/etc/ssl/ca.pem"
pki mx.example.org cert "/etc/ssl/mx.crt"
pki mx.example.org key "/etc/ssl/mx.key"
pki mx.example.org dhe legacy
proc rspamd "filter-rspamd" user _rspamd group _rspamd chroot "/var/empty"
filter f1 proc rspamd
filter f2 proc-exec "filter-dkimsign -d ex.org" user _dkim
filter f3 phase connect match !rdns regex { ".*\.dyn\..*" } !fcrdns disconnect "550 no"
filter f4 phase rcpt-to match rcpt-to <lst> auth src { "10.0.0.0/8" } bypass
filter f5 phase commit match mail-from "@spam" reject "554 \"quoted\" spam"
filter ch chain { f2, f3 }
listen on lo0
listen on 192.0.2.1 inet4 port 2525 tls-require verify pki mx.example.org ca myca auth <map> senders <map> masquerade tag "SUB" hostname mx.example.org hostnames <map> mask-src received-auth no-dsn proxy-v2 filter { f1, f3 } protocols "tlsv1.3" ciphers "HIGH"
listen on "2001:db8::1" smtps verify pki mx.example.org auth-optional filter ch
listen on localhost port 10028 tag DKIM
listen on all
listen on socket mask-src no-dsn tag LOCAL filter f2
action "local" mbox alias <aliases>
action md maildir "~/Mail" junk virtual { "@ex.org" = "u" } userbase <pw> user vmail wrapper spam ttl 5h
action lm lmtp "/run/dovecot/lmtp" rcpt-to
action m mda "/usr/bin/procmail -f -"
action fo forward-only alias <aliases>
action eo expand-only
action "relay" relay
action out relay host "smtp+tls://bob@smtp.example.org:587" helo mx.example.org helo-src <map> src { "192.0.2.1", "192.0.2.2" } pki mx.example.org ca myca tls no-verify protocols "tlsv1.2" ciphers "HIGH" auth <map> mail-from "@example.org" srs filter { f2 } ttl 1d
action bk relay backup mx mx1.example.org
action bk2 relay backup
action dom relay domain { "example.net" = "smtp://relay.example.net" }
match from any for domain "example.org" action "local"
match !from src <lst> for any reject
match from socket for rcpt-to regex "^x@" action out
match from rdns regex { ".*" } for any reject
match from rdns for local action md
match from auth <lst> for any action out
match from mail-from "@example.org" for any action out
match auth tls helo { "mx.example.org" } mail-from <lst> rcpt-to <lst> tag SUB for any action out
match !auth regex "^bot" !tls for any action lm
match for local action m
"#;

#[test]
fn everything_round_trips() {
    let printed = round_trip(EVERYTHING);
    // Inline tables come back inline; names that are keywords are quoted.
    assert!(
        printed.contains("action md maildir \"~/Mail\" junk virtual { \"@ex.org\" = \"u\" }"),
        "{printed}"
    );
    assert!(printed.contains("action \"relay\" relay\n"), "{printed}");
    assert!(printed.contains("listen on lo0\n"), "{printed}");
    assert!(printed.contains("filter { f1, f3 }"), "{printed}");
}

#[test]
fn corner_cases_round_trip() {
    round_trip("table \"my table\" { \"\\\"q\\\" \\\\ x\" }\naction a mbox alias { \"k\" = \"v\" }\nmatch from src <\"my table\"> for any action a\n");
    round_trip("listen on socket\nmatch for any reject\n");
    round_trip("mta limit for domain a.example max-conn-per-host 1\nmta limit max-conn-per-host 5\nmatch for any reject\n");
    round_trip("pki only.example\nmatch for any reject\n");
    round_trip("smtp max-message-size 1000\nmatch for any reject\n");
}

/// A tiny evaluator of the `from`/`auth` part of rules, to show old rules
/// keep their meaning through the conversion.
#[derive(Clone, Copy, Debug)]
struct Session {
    authenticated: bool,
    local_ip: bool,
    ip_in_table: bool,
}

fn holds(cfg: &Config, c: &Condition, s: Session) -> bool {
    let table_has_local = |t: &str| matches!(cfg.table(t).map(|t| &t.source), Some(TableSource::List(v)) if v.iter().any(|x| x == "local"));
    let v = match &c.cond {
        Cond::FromAny | Cond::ForAny => true,
        Cond::FromLocal { or_authenticated } => {
            s.local_ip || (*or_authenticated && s.authenticated)
        }
        Cond::FromSrc {
            operand,
            authenticated_as_local,
        } => {
            if *authenticated_as_local && s.authenticated {
                table_has_local(&operand.table)
            } else {
                s.ip_in_table
            }
        }
        Cond::FromAuth(None) | Cond::Auth(None) => s.authenticated,
        other => panic!("not modelled: {other:?}"),
    };
    v != c.negated
}

fn matches(cfg: &Config, r: &Rule, s: Session) -> bool {
    r.conditions.iter().all(|c| holds(cfg, c, s))
}

fn sessions() -> Vec<Session> {
    let mut v = Vec::new();
    for a in [false, true] {
        for l in [false, true] {
            for t in [false, true] {
                v.push(Session {
                    authenticated: a,
                    local_ip: l,
                    ip_in_table: t,
                });
            }
        }
    }
    v
}

#[test]
fn old_rules_keep_their_meaning() {
    let tables = "table t { 192.0.2.0/24 }\ntable tl { 192.0.2.0/24, \"local\" }\n";
    let froms = [
        "",
        "from local",
        "from ! local",
        "from any",
        "from ! any",
        "from source <t>",
        "from ! source <t>",
        "from source <tl>",
        "from ! source <tl>",
    ];
    for from in froms {
        for auth in ["", "authenticated", "! authenticated"] {
            let old = ok(&format!("{tables}accept {from} {auth} for any relay\n"));
            let printed = print(&old);
            let new = ok(&printed);
            assert!(new.rules.iter().all(|r| r.grammar == Grammar::Match));
            for s in sessions() {
                let before = matches(&old, &old.rules[0], s);
                let after = new.rules.iter().any(|r| matches(&new, r, s));
                assert_eq!(before, after, "`{from} {auth}` for {s:?}:\n{printed}");
            }
            assert_eq!(print(&new), printed, "not idempotent");
        }
    }
}

#[test]
fn old_rules_print_as_match_rules() {
    let c = ok(
        "table aliases file:/etc/mail/aliases\ntable secrets file:/etc/mail/secret\n\
                accept for local alias <aliases> deliver to mbox\n\
                accept for any relay via tls+auth://myisp@smtps.my.isp auth <secrets>\n",
    );
    let printed = print(&c);
    let expected = "table aliases file:/etc/mail/aliases\ntable secrets file:/etc/mail/secret\n\n\
        action rule-3 mbox alias <aliases>\n\
        action rule-4 relay host \"smtp+tls://myisp@smtps.my.isp\" tls no-verify auth <secrets>\n\n\
        match from local for local action rule-3\nmatch from auth for local action rule-3\n\
        match from local for any action rule-4\nmatch from auth for any action rule-4\n";
    assert_eq!(printed, expected);
}

#[test]
fn old_settings_without_equivalent_are_kept_and_noted() {
    let c = ok(
        "curve \"secp384r1\"\npki mx certificate \"/c\"\npki mx dhparams \"/dh\"\n\
                accept for any relay via secure://mx.example.org\n",
    );
    let printed = print(&c);
    assert!(
        printed.contains("# curve (5.7) has no equivalent today\ncurve \"secp384r1\"\n"),
        "{printed}"
    );
    assert!(printed.contains("pki \"mx\" dhparams \"/dh\""), "{printed}");
    assert!(
        printed.contains("# secure:// (SMTPS falling back to STARTTLS"),
        "{printed}"
    );
    assert!(
        printed.contains("host \"secure://mx.example.org\" tls no-verify"),
        "{printed}"
    );
    assert_eq!(print(&ok(&printed)), printed);
}

#[test]
fn corpus_old_files_convert() {
    let dir = common::corpus_dir().join("old");
    let mut n = 0;
    for (path, verdict, _) in common::corpus() {
        if verdict != "ACCEPT" || !path.starts_with(&dir) {
            continue;
        }
        let c = parse_file(&path, &ParseOptions::default()).config;
        let printed = print(&c);
        assert!(
            !printed.contains("accept "),
            "{}: {printed}",
            path.display()
        );
        let again = ok(&printed);
        assert!(again.rules.iter().all(|r| r.grammar == Grammar::Match));
        n += 1;
    }
    assert!(n > 20);
}
