//! The grammar of OpenSMTPD 5.3 → 6.0, and its lowering.

mod common;

use std::time::Duration;

use common::{ok, only_literal};
use smtpd_config::*;

fn action_of<'a>(c: &'a Config, r: &Rule) -> &'a Action {
    match &r.decision {
        Decision::Action(a) => c.action(a).expect("action"),
        Decision::Reject => panic!("reject"),
    }
}

fn relay_of<'a>(c: &'a Config, r: &Rule) -> &'a Relay {
    match &action_of(c, r).method {
        Method::Relay(x) => x,
        _ => panic!("local"),
    }
}

fn local_of<'a>(c: &'a Config, r: &Rule) -> &'a LocalDelivery {
    match &action_of(c, r).method {
        Method::Local(x) => x,
        _ => panic!("relay"),
    }
}

fn url_of(c: &Config, r: &Rule) -> RelayUrl {
    RelayUrl::parse(&only_literal(
        c,
        relay_of(c, r).host.as_deref().expect("host"),
    ))
    .unwrap()
}

#[test]
fn decisions() {
    let c = ok("table t { 10.0.0.0/8 }\ntable s { \"@ex.org\" }\n\
        accept from any for domain example.org deliver to mbox\n\
        accept from 127.0.0.0/8 for any relay\n\
        accept from ! source <t> for ! local sender ! <s> recipient <s> tagged ! IN ! authenticated deliver to mbox\n\
        accept tagged DKIM authenticated for any relay\n\
        reject from any for domain <s>\n");
    let r = &c.rules;
    assert!(r.iter().all(|r| r.grammar == Grammar::Old));
    assert_eq!(r[0].conditions[0].cond, Cond::FromAny);
    assert!(
        matches!(&r[0].conditions[1].cond, Cond::ForDomain(o) if only_literal(&c, &o.table) == "example.org")
    );
    // 5.3's bare `from <network>` is `from source`; old source checks look
    // up `local` for authenticated sessions.
    assert!(matches!(&r[1].conditions[0].cond,
        Cond::FromSrc { operand, authenticated_as_local: true } if only_literal(&c, &operand.table) == "127.0.0.0/8"));
    let v: Vec<(bool, &str)> = r[2]
        .conditions
        .iter()
        .map(|c| {
            (
                c.negated,
                match &c.cond {
                    Cond::FromSrc { .. } => "from source",
                    Cond::ForLocal => "for local",
                    Cond::MailFrom(_) => "sender",
                    Cond::RcptTo(_) => "recipient",
                    Cond::Tag(_) => "tagged",
                    Cond::Auth(None) => "authenticated",
                    _ => "?",
                },
            )
        })
        .collect();
    assert_eq!(
        v,
        vec![
            (true, "from source"),
            (true, "for local"),
            (true, "sender"),
            (false, "recipient"),
            (true, "tagged"),
            (true, "authenticated")
        ]
    );
    assert!(matches!(r[3].conditions[1].cond, Cond::Auth(None)));
    // Missing `from` is local, counting authenticated sessions.
    assert_eq!(
        r[3].conditions[3].cond,
        Cond::FromLocal {
            or_authenticated: true
        }
    );
    assert_eq!(r[4].decision, Decision::Reject);
}

#[test]
fn deliveries() {
    let c = ok("table aliases { root = u }\ntable v { \"@ex.org\" = u }\ntable ub { u = \"1000:1000:/h\" }\n\
        accept for local alias <aliases> deliver to mbox\n\
        accept for local virtual <v> userbase <ub> deliver to maildir\n\
        accept for local deliver to maildir \"~/mails\" expire 2d\n\
        accept for local deliver to lmtp \"/run/dovecot/lmtp\" rcpt-to as vmail\n\
        accept for local deliver to lmtp imap:24\n\
        accept for local deliver to mda \"/usr/bin/procmail -f -\" as vmail\n\
        accept for local virtual <v> forward-only\n\
        accept from localhost for any\n");
    let r = &c.rules;
    let l0 = local_of(&c, &r[0]);
    assert_eq!(
        (l0.kind.clone(), l0.mapping.clone()),
        (LocalKind::Mbox, Some(Mapping::Alias("aliases".into())))
    );
    let l1 = local_of(&c, &r[1]);
    assert_eq!(
        l1.kind,
        LocalKind::Maildir {
            path: None,
            junk: false
        }
    );
    assert_eq!(l1.userbase.as_deref(), Some("ub"));
    assert_eq!(
        local_of(&c, &r[2]).kind,
        LocalKind::Maildir {
            path: Some("~/mails".into()),
            junk: false
        }
    );
    assert_eq!(
        action_of(&c, &r[2]).ttl,
        Some(Duration::from_secs(2 * 86_400))
    );
    let l3 = local_of(&c, &r[3]);
    assert_eq!(
        l3.kind,
        LocalKind::Lmtp {
            dest: "/run/dovecot/lmtp".into(),
            rcpt_to: true
        }
    );
    assert_eq!(l3.user.as_deref(), Some("vmail"));
    assert_eq!(
        local_of(&c, &r[4]).kind,
        LocalKind::Lmtp {
            dest: "imap:24".into(),
            rcpt_to: false
        }
    );
    assert_eq!(local_of(&c, &r[5]).user.as_deref(), Some("vmail"));
    assert_eq!(local_of(&c, &r[6]).kind, LocalKind::ForwardOnly);
    assert_eq!(
        local_of(&c, &r[6]).mapping,
        Some(Mapping::Virtual("v".into()))
    );
    // No action at all: aliases/.forward expansion only.
    assert_eq!(local_of(&c, &r[7]).kind, LocalKind::ForwardOnly);
    // Generated action names come from the line.
    let names: Vec<&str> = c.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        ["rule-4", "rule-5", "rule-6", "rule-7", "rule-8", "rule-9", "rule-10", "rule-11"]
    );
    assert!(c.actions.iter().all(|a| a.origin == ActionOrigin::OldRule));
}

#[test]
fn generated_names_never_clash() {
    let c =
        ok("action rule-2 mbox\naccept for local deliver to mbox\nmatch for any action rule-2\n");
    let names: Vec<&str> = c.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["rule-2", "rule-2-2"]);
    assert_eq!(c.rules[0].decision, Decision::Action("rule-2-2".into()));
}

#[test]
fn relays() {
    let c = ok(
        "table s { 192.0.2.1 }\ntable h { 192.0.2.1 = mx.ex.org }\ntable secrets { l = \"u:p\" }\n\
        pki client certificate \"/c\"\n\
        accept for any relay backup\n\
        accept for any relay backup mx1.ex.org as \"@ex.org\" source <s> hostname mx.ex.org\n\
        accept for any relay hostnames <h> pki client tls verify\n\
        accept for any relay helo <h>\n\
        accept for any relay via smtp://127.0.0.1:10027\n\
        accept for any relay via \"lmtp://127.0.0.1:2525\"\n\
        accept for any relay via tls://mx.ex.org verify\n\
        accept for any relay via smtps://mx.ex.org\n\
        accept for any relay via tls+auth://l@mx.ex.org:587 auth <secrets> as me@ex.org\n\
        accept for any relay via secure+auth://l@mx.ex.org auth <secrets>\n\
        accept for any relay via smtp+tls://mx.ex.org certificate client\n\
        accept for any relay via ssl://mx.ex.org\n",
    );
    let r = &c.rules;
    assert_eq!(relay_of(&c, &r[0]).backup, Some(None));
    let r1 = relay_of(&c, &r[1]);
    assert_eq!(r1.backup, Some(Some("mx1.ex.org".into())));
    assert_eq!(r1.mail_from.as_deref(), Some("@ex.org"));
    assert_eq!(r1.src.as_deref(), Some("s"));
    assert_eq!(r1.helo.as_deref(), Some("mx.ex.org"));
    let r2 = relay_of(&c, &r[2]);
    assert_eq!(r2.helo_src.as_deref(), Some("h"));
    assert_eq!(r2.pki.as_deref(), Some("client"));
    assert_eq!(r2.tls, Some(RelayTls { verify: true }));
    assert_eq!(relay_of(&c, &r[3]).helo_src.as_deref(), Some("h"));

    let u = url_of(&c, &r[4]);
    assert_eq!((u.tls, u.port), (RelayTlsMode::Opportunistic, Some(10027)));
    assert_eq!(relay_of(&c, &r[4]).tls, None);
    assert_eq!(url_of(&c, &r[5]).proto, RelayProto::Lmtp);
    assert_eq!(url_of(&c, &r[6]).tls, RelayTlsMode::StartTls);
    assert_eq!(relay_of(&c, &r[6]).tls, Some(RelayTls { verify: true }));
    assert_eq!(url_of(&c, &r[7]).tls, RelayTlsMode::Smtps);
    assert_eq!(relay_of(&c, &r[7]).tls, Some(RelayTls { verify: false }));
    let u = url_of(&c, &r[8]);
    assert_eq!(
        (u.tls, u.label.as_deref(), u.port),
        (RelayTlsMode::StartTls, Some("l"), Some(587))
    );
    assert_eq!(relay_of(&c, &r[8]).auth.as_deref(), Some("secrets"));
    assert_eq!(relay_of(&c, &r[8]).mail_from.as_deref(), Some("me@ex.org"));
    assert_eq!(url_of(&c, &r[9]).tls, RelayTlsMode::SmtpsOrStartTls);
    // In 5.x, smtp+tls:// meant "TLS if offered".
    assert_eq!(url_of(&c, &r[10]).tls, RelayTlsMode::Opportunistic);
    assert_eq!(relay_of(&c, &r[10]).pki.as_deref(), Some("client"));
    assert_eq!(url_of(&c, &r[11]).tls, RelayTlsMode::SmtpsOrStartTls);
}

#[test]
fn listeners() {
    let c = ok("pki mx certificate \"/c\"\npki mx key \"/k\"\npki mx dhparams \"/dh\" ca \"/ca\"\n\
        listen on egress secure pki mx\nlisten on egress port 587 tls-require certificate mx.example.org auth mask-source\n\
        listen on 0.0.0.0 inet4 port 465 smtps pki mx auth-optional\n\
        listen on socket mask-source\n\
        accept for any relay\n");
    let l = &c.listeners;
    assert_eq!(l.len(), 5);
    assert_eq!(
        (l[0].port, l[0].tls),
        (
            25,
            ListenerTls::StartTls {
                required: false,
                verify: false
            }
        )
    );
    assert_eq!(
        (l[1].port, l[1].tls),
        (465, ListenerTls::Smtps { verify: false })
    );
    assert_eq!(l[2].pki, vec!["mx.example.org"]);
    assert!(l[2].mask_src);
    assert_eq!(l[3].family, Some(Family::Inet4));
    assert!(l[4].mask_src);
    assert_eq!(c.pki("mx").unwrap().dhparams.as_deref(), Some("/dh"));
    assert_eq!(c.pki("mx").unwrap().ca_file.as_deref(), Some("/ca"));
}

#[test]
fn globals() {
    let c = ok("expire 3d\nbounce-warn 1h, 6h\nmax-message-size 50M\nqueue encryption key 11a693e7d0bfcc20548a4f008a78b8ed\n\
        limit mta inet4\nlimit mta for domain ex.org max-conn-per-host 1\nlimit session max-rcpt 30\n\
        limit scheduler max-inflight 10\nlimit mda max-session 5\nciphers \"HIGH\"\ncurve \"secp384r1\"\n\
        subaddressing-delimiter \"-\"\nmax-mta-deferred 50\nfilter spam \"/usr/libexec/smtpd/spam\" \"-x\"\n\
        filter dk chain spam\naccept for any relay\n");
    assert_eq!(c.queue.ttl, Duration::from_secs(3 * 86_400));
    assert_eq!(c.bounce.warn_interval.len(), 2);
    assert_eq!(c.smtp.max_message_size, 50 << 20);
    assert_eq!(
        c.queue.encryption.as_ref().map(|e| &e.key),
        Some(&QueueKey::Key("11a693e7d0bfcc20548a4f008a78b8ed".into()))
    );
    assert_eq!(c.mta.limits.family, Some(Family::Inet4));
    assert_eq!(c.mta.domain_limits[0].limits.counts.max_conn_per_host, 1);
    assert_eq!(c.smtp.max_rcpt, 30);
    assert_eq!(c.scheduler.max_inflight, 10);
    assert_eq!(c.mda.limits.max_session, 5);
    assert_eq!(c.smtp.ciphers.as_deref(), Some("HIGH"));
    assert_eq!(c.smtp.curve.as_deref(), Some("secp384r1"));
    assert_eq!(c.smtp.sub_addr_delim, '-');
    assert_eq!(c.mta.max_deferred, 50);
    assert!(matches!(&c.filter("spam").unwrap().kind,
        FilterKind::ProcExec { command, .. } if command == "/usr/libexec/smtpd/spam -x"));
    assert!(matches!(
        &c.filter("dk").unwrap().kind,
        FilterKind::Chain { .. }
    ));
}

#[test]
fn both_grammars_in_one_file() {
    let c = ok(
        "table aliases { root = u }\nlisten on lo0\naction out relay\n\
        accept for local alias <aliases> deliver to mbox\nmatch from local for any action out\n\
        smtp limit max-rcpt 30\nmax-message-size 20M\n",
    );
    assert_eq!(c.rules[0].grammar, Grammar::Old);
    assert_eq!(c.rules[1].grammar, Grammar::Match);
    assert_eq!(c.smtp.max_rcpt, 30);
    assert_eq!(c.smtp.max_message_size, 20 << 20);
}
