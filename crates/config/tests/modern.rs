//! Today's grammar, statement by statement and option by option.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::ok;
use smtpd_config::*;

const RULE: &str = "\nmatch for any reject\n";

fn with_rule(s: &str) -> Config {
    ok(&format!("{s}{RULE}"))
}

fn table_source<'a>(c: &'a Config, name: &str) -> &'a TableSource {
    &c.table(name).expect("table").source
}

fn literal(c: &Config, name: &str) -> Vec<String> {
    match table_source(c, name) {
        TableSource::List(v) => v.clone(),
        other => panic!("not a list: {other:?}"),
    }
}

#[test]
fn tables() {
    let c = with_rule(
        "table a file:/etc/a\ntable b db:/etc/b.db\ntable c \"/etc/c\"\ntable d \"file:/etc/d\"\n\
         table e ldap:/etc/ldap.conf\ntable f getpwnam\ntable g { x, y z }\n\
         table h { k = v, \"k 2\" => \"v 2\" }\ntable i {\n  one,\n  two\n}\n",
    );
    assert_eq!(
        table_source(&c, "a"),
        &TableSource::File {
            path: "/etc/a".into()
        }
    );
    assert_eq!(
        table_source(&c, "b"),
        &TableSource::Db {
            path: "/etc/b.db".into()
        }
    );
    assert_eq!(
        table_source(&c, "c"),
        &TableSource::File {
            path: "/etc/c".into()
        }
    );
    assert_eq!(
        table_source(&c, "d"),
        &TableSource::File {
            path: "/etc/d".into()
        }
    );
    assert_eq!(
        table_source(&c, "e"),
        &TableSource::External {
            backend: "ldap".into(),
            config: Some("/etc/ldap.conf".into())
        }
    );
    assert_eq!(table_source(&c, "f"), &TableSource::Getpwnam);
    assert_eq!(literal(&c, "g"), vec!["x", "y", "z"]);
    assert_eq!(
        table_source(&c, "h"),
        &TableSource::Map(vec![("k".into(), "v".into()), ("k 2".into(), "v 2".into())])
    );
    assert_eq!(literal(&c, "i"), vec!["one", "two"]);
    assert!(c.tables.iter().all(|t| t.origin == TableOrigin::Declared));
}

#[test]
fn macros_and_command_line_overrides() {
    let text = "ip4=127.0.0.1\nopts = \"tls pki mx auth <creds>\"\n\
                pki mx cert \"/c\"\npki mx key \"/k\"\ntable creds { u = p }\n\
                listen on $ip4 port 587 $opts\n";
    let c = with_rule(text);
    let l = &c.listeners[0];
    assert_eq!(l.on, ListenOn::Addr("127.0.0.1".parse().unwrap()));
    assert_eq!(l.pki, vec!["mx"]);
    assert_eq!(
        l.auth.as_ref().and_then(|a| a.table.as_deref()),
        Some("creds")
    );
    let opts = ParseOptions {
        macros: vec![("ip4".into(), "::1".into())],
    };
    let p = parse_str("t.conf", &format!("{text}{RULE}"), &opts);
    assert!(p.is_ok(), "{:?}", p.diags);
    assert_eq!(
        p.config.listeners[0].on,
        ListenOn::Addr("::1".parse().unwrap())
    );
}

#[test]
fn include_reads_relative_to_the_including_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tables.conf"),
        "table aliases { root = admin }\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("bad.conf"), "\n\nlisten on\n").unwrap();
    let main = dir.path().join("smtpd.conf");
    std::fs::write(
        &main,
        "include \"tables.conf\"\naction a mbox alias <aliases>\nmatch for local action a\n",
    )
    .unwrap();
    let p = parse_file(&main, &ParseOptions::default());
    assert!(p.is_ok(), "{:?}", p.diags);
    assert!(p.config.table("aliases").is_some());

    // Errors in an included file name that file.
    std::fs::write(
        &main,
        "include \"bad.conf\"\nmatch for any reject\nlisten on\n",
    )
    .unwrap();
    let p = parse_file(&main, &ParseOptions::default());
    assert_eq!(p.diags.len(), 2, "{:?}", p.diags);
    assert!(p.diags[0].file.ends_with("bad.conf"));
    assert_eq!(p.diags[0].line, 3);
    assert!(p.diags[1].file.ends_with("smtpd.conf"));
    assert_eq!(p.diags[1].line, 3);
}

#[test]
fn pki_and_ca() {
    let c = with_rule(
        "pki Mail.Example.Org cert \"/c.pem\"\npki mail.example.org key \"/k.pem\" dhe auto\n\
         pki \"*\" cert \"/w\"\nca myca cert \"/ca.pem\"\n",
    );
    let p = c.pki("mail.example.org").expect("merged, lowercased");
    assert_eq!(p.cert.as_deref(), Some("/c.pem"));
    assert_eq!(p.key.as_deref(), Some("/k.pem"));
    assert_eq!(p.dhe, Some(Dhe::Auto));
    assert!(c.pki("*").is_some());
    assert_eq!(
        c.ca("MYCA").and_then(|c| c.cert.as_deref()),
        Some("/ca.pem")
    );
}

#[test]
fn listen_targets_and_ports() {
    let c = with_rule(
        "listen on lo0\nlisten on 192.0.2.1 port 2525\nlisten on :: inet6 port smtps smtps\n\
         listen on localhost port submission\nlisten on all inet4\nlisten on any\n\
         listen on mail.example.org port ssmtp\nlisten on socket mask-src tag LOCAL\n",
    );
    let v: Vec<(&ListenOn, u16, Option<Family>)> = c
        .listeners
        .iter()
        .map(|l| (&l.on, l.port, l.family))
        .collect();
    let v6: IpAddr = "::".parse().unwrap();
    assert_eq!(
        v,
        vec![
            (&ListenOn::Name("lo0".into()), 25, None),
            (&ListenOn::Addr("192.0.2.1".parse().unwrap()), 2525, None),
            (&ListenOn::Addr(v6), 465, Some(Family::Inet6)),
            (&ListenOn::Localhost, 587, None),
            (&ListenOn::All, 25, Some(Family::Inet4)),
            (&ListenOn::All, 25, None),
            (&ListenOn::Name("mail.example.org".into()), 465, None),
            (&ListenOn::Socket, 0, None),
        ]
    );
    let s = c.socket_listener();
    assert!(s.mask_src);
    assert_eq!(s.tag.as_deref(), Some("LOCAL"));
    // Without a `listen on socket`, the default socket listener exists.
    let c = with_rule("listen on lo0\n");
    assert_eq!(c.socket_listener().on, ListenOn::Socket);
}

#[test]
fn listen_tls_modes() {
    let pki = "pki p cert \"/c\"\npki p key \"/k\"\n";
    let c = with_rule(&format!(
        "{pki}listen on lo0 tls pki p\nlisten on lo0 tls-require pki p\n\
         listen on lo0 tls-require verify pki p\nlisten on lo0 smtps pki p\n\
         listen on lo0 smtps verify pki p\nlisten on lo0 tls\n"
    ));
    let v: Vec<(ListenerTls, u16)> = c.listeners.iter().map(|l| (l.tls, l.port)).collect();
    assert_eq!(
        v,
        vec![
            (
                ListenerTls::StartTls {
                    required: false,
                    verify: false
                },
                25
            ),
            (
                ListenerTls::StartTls {
                    required: true,
                    verify: false
                },
                25
            ),
            (
                ListenerTls::StartTls {
                    required: true,
                    verify: true
                },
                25
            ),
            (ListenerTls::Smtps { verify: false }, 465),
            (ListenerTls::Smtps { verify: true }, 465),
            // tls without pki is valid: the certificate is found by name.
            (
                ListenerTls::StartTls {
                    required: false,
                    verify: false
                },
                25
            ),
        ]
    );
    assert!(c.listeners[5].pki.is_empty());
}

#[test]
fn listen_options() {
    let c = with_rule(
        "pki a cert \"/c\"\npki b cert \"/c\"\nca ca1 cert \"/ca\"\ntable creds { u = p }\n\
         table users { u = \"u@example.org\" }\ntable names { 127.0.0.1 = localhost }\n\
         filter f1 phase connect match !rdns junk\nfilter f2 proc-exec \"cmd\"\n\
         listen on lo0 port 587 tls-require pki a pki b ca ca1 auth <creds> senders <users> masquerade \
         tag SUB hostname mx.example.org hostnames <names> mask-src received-auth no-dsn proxy-v2 \
         filter { f1, f2 } protocols \"tlsv1.3\" ciphers \"HIGH\"\n\
         listen on lo0 port 26 tls pki a auth-optional filter f2\n",
    );
    let l = &c.listeners[0];
    assert_eq!(l.pki, vec!["a", "b"]);
    assert_eq!(l.ca.as_deref(), Some("ca1"));
    assert_eq!(
        l.auth,
        Some(ListenerAuth {
            required: true,
            table: Some("creds".into())
        })
    );
    assert_eq!(
        l.senders,
        Some(Senders {
            table: "users".into(),
            masquerade: true
        })
    );
    assert_eq!(l.tag.as_deref(), Some("SUB"));
    assert_eq!(l.hostname.as_deref(), Some("mx.example.org"));
    assert_eq!(l.hostnames.as_deref(), Some("names"));
    assert!(l.mask_src && l.received_auth && l.no_dsn && l.proxy_v2);
    assert_eq!(l.protocols.as_deref(), Some("tlsv1.3"));
    assert_eq!(l.ciphers.as_deref(), Some("HIGH"));
    let chain = c.filter(l.filter.as_deref().unwrap()).unwrap();
    assert!(chain.inline);
    assert_eq!(
        chain.kind,
        FilterKind::Chain {
            filters: vec!["f1".into(), "f2".into()]
        }
    );
    let l = &c.listeners[1];
    assert_eq!(
        l.auth,
        Some(ListenerAuth {
            required: false,
            table: None
        })
    );
    assert_eq!(l.filter.as_deref(), Some("f2"));
}

fn action<'a>(c: &'a Config, name: &str) -> &'a Method {
    &c.action(name).expect("action").method
}

fn local_of(m: &Method) -> &LocalDelivery {
    match m {
        Method::Local(d) => d,
        _ => panic!("relay"),
    }
}

#[test]
fn local_actions() {
    let c = with_rule(
        "table aliases { root = admin }\ntable v { \"@ex.org\" = u }\ntable ub { u = \"1000:1000:/home/u\" }\n\
         mda wrapper spam \"/usr/bin/spamc -e %{mda}\"\n\
         action mb mbox alias <aliases>\n\
         action md maildir\naction mdj maildir junk\naction mdp maildir \"~/Mail\" junk virtual <v> userbase <ub> user vmail\n\
         action lm lmtp \"/run/dovecot/lmtp\" rcpt-to virtual <v>\naction lh lmtp \"127.0.0.1:24\"\n\
         action m mda \"/bin/procmail -f -\" wrapper spam ttl 2d\n\
         action fo forward-only alias <aliases>\naction eo expand-only\n",
    );
    assert_eq!(local_of(action(&c, "mb")).kind, LocalKind::Mbox);
    assert_eq!(
        local_of(action(&c, "mb")).mapping,
        Some(Mapping::Alias("aliases".into()))
    );
    assert_eq!(
        local_of(action(&c, "md")).kind,
        LocalKind::Maildir {
            path: None,
            junk: false
        }
    );
    assert_eq!(
        local_of(action(&c, "mdj")).kind,
        LocalKind::Maildir {
            path: None,
            junk: true
        }
    );
    let d = local_of(action(&c, "mdp"));
    assert_eq!(
        d.kind,
        LocalKind::Maildir {
            path: Some("~/Mail".into()),
            junk: true
        }
    );
    assert_eq!(d.mapping, Some(Mapping::Virtual("v".into())));
    assert_eq!(d.userbase.as_deref(), Some("ub"));
    assert_eq!(d.user.as_deref(), Some("vmail"));
    assert_eq!(
        local_of(action(&c, "lm")).kind,
        LocalKind::Lmtp {
            dest: "/run/dovecot/lmtp".into(),
            rcpt_to: true
        }
    );
    let m = c.action("m").unwrap();
    assert_eq!(local_of(&m.method).wrapper.as_deref(), Some("spam"));
    assert_eq!(m.ttl, Some(Duration::from_secs(2 * 86_400)));
    assert_eq!(local_of(action(&c, "fo")).kind, LocalKind::ForwardOnly);
    assert_eq!(local_of(action(&c, "eo")).kind, LocalKind::ExpandOnly);
    assert_eq!(c.mda.wrappers[0].name, "spam");
}

#[test]
fn relay_actions() {
    let c = with_rule(
        "srs key \"secret\"\npki client cert \"/c\"\nca myca cert \"/ca\"\n\
         table secrets { label = \"user:pass\" }\ntable srcs { 192.0.2.1, 192.0.2.2 }\n\
         table helos { 192.0.2.1 = mx1.example.org }\ntable hosts { smtp://a.example.org, \"smtps://b.example.org:465\" }\n\
         filter out proc-exec \"x\"\n\
         action r relay\n\
         action s relay host smtp+tls://label@smtp.example.org:587 auth <secrets> mail-from \"@example.org\" tls no-verify\n\
         action t relay host <hosts> pki client ca myca tls protocols \"tlsv1.2\" ciphers \"HIGH\"\n\
         action u relay helo mx.example.org helo-src <helos> src <srcs> srs filter out ttl 1h\n\
         action b relay backup mx mx1.example.org\naction b2 relay backup\n\
         action d relay domain { \"example.net\" = \"smtp://relay.example.net\" }\n",
    );
    let relay = |n| match action(&c, n) {
        Method::Relay(r) => r,
        _ => panic!("local"),
    };
    assert_eq!(relay("r"), &Relay::default());
    let s = relay("s");
    let url = RelayUrl::parse(&common::only_literal(&c, s.host.as_deref().unwrap())).unwrap();
    assert_eq!(url.tls, RelayTlsMode::StartTls);
    assert_eq!(url.label.as_deref(), Some("label"));
    assert_eq!(url.port, Some(587));
    assert_eq!(s.auth.as_deref(), Some("secrets"));
    assert_eq!(s.mail_from.as_deref(), Some("@example.org"));
    assert_eq!(s.tls, Some(RelayTls { verify: false }));
    let t = relay("t");
    assert_eq!(t.host.as_deref(), Some("hosts"));
    assert_eq!(
        (t.pki.as_deref(), t.ca.as_deref()),
        (Some("client"), Some("myca"))
    );
    assert_eq!(t.tls, Some(RelayTls { verify: true }));
    assert_eq!(t.protocols.as_deref(), Some("tlsv1.2"));
    let u = relay("u");
    assert_eq!(u.helo.as_deref(), Some("mx.example.org"));
    assert_eq!(u.helo_src.as_deref(), Some("helos"));
    assert_eq!(u.src.as_deref(), Some("srcs"));
    assert!(u.srs);
    assert_eq!(u.filter.as_deref(), Some("out"));
    assert_eq!(c.action("u").unwrap().ttl, Some(Duration::from_secs(3600)));
    assert_eq!(relay("b").backup, Some(Some("mx1.example.org".into())));
    assert_eq!(relay("b2").backup, Some(None));
    assert!(relay("d").domain.is_some());
}

fn conds(r: &Rule) -> Vec<(bool, &Cond)> {
    r.conditions.iter().map(|c| (c.negated, &c.cond)).collect()
}

#[test]
fn match_conditions() {
    let c = ok("table t { a }\ntable n { 10.0.0.0/8 }\naction a mbox\n\
        match from any for domain \"example.org\" action a\n\
        match !from src <n> for any reject\n\
        match from socket for rcpt-to regex \"^x@\" action a\n\
        match from rdns regex { '.*\\.dyn\\..*' } for any reject\n\
        match from rdns for local action a\n\
        match from auth <t> for any action a\n\
        match from mail-from \"@example.org\" for any action a\n\
        match auth for any tls helo { mx.example.org } mail-from <t> rcpt-to <t> tag SUB action a\n\
        match !auth regex \"^bot\" !tls for any action a\n\
        match for local action a\n");
    let r = &c.rules;
    let operand = |cond: &Cond| cond.operand().cloned().unwrap();
    assert_eq!(conds(&r[0])[0], (false, &Cond::FromAny));
    assert!(matches!(conds(&r[0])[1], (false, Cond::ForDomain(_))));
    assert_eq!(
        common::only_literal(&c, &operand(conds(&r[0])[1].1).table),
        "example.org"
    );
    assert!(matches!(
        conds(&r[1])[0],
        (
            true,
            Cond::FromSrc {
                authenticated_as_local: false,
                ..
            }
        )
    ));
    assert_eq!(conds(&r[2])[0], (false, &Cond::FromSocket));
    assert!(operand(conds(&r[2])[1].1).regex);
    assert!(matches!(
        conds(&r[3])[0],
        (false, Cond::FromRdns(Some(Operand { regex: true, .. })))
    ));
    assert_eq!(conds(&r[4])[0], (false, &Cond::FromRdns(None)));
    assert!(matches!(conds(&r[5])[0], (false, Cond::FromAuth(Some(_)))));
    assert!(matches!(conds(&r[6])[0], (false, Cond::FromMailFrom(_))));
    let kinds: Vec<&str> = r[7]
        .conditions
        .iter()
        .map(|c| match c.cond {
            Cond::Auth(None) => "auth",
            Cond::ForAny => "for any",
            Cond::Tls => "tls",
            Cond::Helo(_) => "helo",
            Cond::MailFrom(_) => "mail-from",
            Cond::RcptTo(_) => "rcpt-to",
            Cond::Tag(_) => "tag",
            Cond::FromLocal {
                or_authenticated: false,
            } => "from local (default)",
            _ => "?",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "auth",
            "for any",
            "tls",
            "helo",
            "mail-from",
            "rcpt-to",
            "tag",
            "from local (default)"
        ]
    );
    assert!(r[8].conditions[0].negated && r[8].conditions[1].negated);
    // Defaults: `from local` and `for local`; a match rule does not count
    // authenticated sessions as local.
    assert_eq!(
        conds(&r[9]),
        vec![
            (false, &Cond::ForLocal),
            (
                false,
                &Cond::FromLocal {
                    or_authenticated: false
                }
            )
        ]
    );
    assert!(r.iter().all(|r| r.grammar == Grammar::Match));
    assert_eq!(r[1].decision, Decision::Reject);
}

#[test]
fn filters_and_procs() {
    let c = with_rule(
        "proc rspamd \"filter-rspamd\" user _rspamd group _rspamd chroot \"/var/empty\"\n\
         filter f1 proc rspamd\n\
         filter f2 proc-exec \"filter-dkimsign -d ex.org\" user _dkim\n\
         filter f3 phase connect match !rdns disconnect \"550 no rDNS\"\n\
         filter f4 phase helo match helo regex \"^localhost\" reject \"550 bad helo\"\n\
         filter f5 phase mail-from match !auth mail-from { \"@spam.example\" } junk\n\
         filter f6 phase rcpt-to match rcpt-to <t> bypass\n\
         filter f7 phase commit match fcrdns report \"ok\"\n\
         filter f8 phase data match src { 10.0.0.0/8 } rewrite \"x\"\n\
         filter all chain { f1, f3 }\n"
            .replace("<t>", "{ \"a@b\" }")
            .as_str(),
    );
    assert_eq!(
        c.proc("rspamd").unwrap().run.user.as_deref(),
        Some("_rspamd")
    );
    assert_eq!(
        c.filter("f1").unwrap().kind,
        FilterKind::Proc {
            proc: "rspamd".into()
        }
    );
    assert!(matches!(&c.filter("f2").unwrap().kind,
        FilterKind::ProcExec { run, .. } if run.user.as_deref() == Some("_dkim")));
    let FilterKind::Builtin {
        phase,
        conditions,
        decision,
    } = &c.filter("f3").unwrap().kind
    else {
        panic!()
    };
    assert_eq!(*phase, FilterPhase::Connect);
    assert_eq!(
        conditions,
        &vec![FilterCondition {
            negated: true,
            cond: FilterCond::Rdns(None)
        }]
    );
    assert_eq!(decision, &FilterDecision::Disconnect("550 no rDNS".into()));
    assert!(matches!(&c.filter("f5").unwrap().kind,
        FilterKind::Builtin { conditions, decision: FilterDecision::Junk, .. } if conditions.len() == 2));
    assert_eq!(
        c.filter("all").unwrap().kind,
        FilterKind::Chain {
            filters: vec!["f1".into(), "f3".into()]
        }
    );
}

#[test]
fn global_settings() {
    let c = with_rule(
        "smtp max-message-size 50M\nsmtp limit max-rcpt 500 max-mails 50\nsmtp sub-addr-delim \"-\"\n\
         smtp ciphers \"HIGH:!aNULL\"\nqueue compression\nqueue encryption \"0123456789abcdef0123456789abcdef\"\n\
         queue ttl 5d\nbounce warn-interval 1h, 6h, 2d\nsrs key \"k1\"\nsrs key backup \"k0\"\nsrs ttl 7d\n\
         mta max-deferred 200\nmta limit inet4 max-conn-per-host 2\n\
         mta limit for domain gmail.com max-conn-per-route 1\n\
         mda limit max-session 10 max-session-per-user 2\nscheduler limit max-inflight 100\n\
         admd \"mx.example.org\"\n",
    );
    assert_eq!(c.smtp.max_message_size, 50 * 1024 * 1024);
    assert_eq!((c.smtp.max_rcpt, c.smtp.max_mails), (500, 50));
    assert_eq!(c.smtp.sub_addr_delim, '-');
    assert_eq!(c.smtp.ciphers.as_deref(), Some("HIGH:!aNULL"));
    assert!(c.queue.compression);
    assert_eq!(
        c.queue.encryption.as_ref().map(|e| &e.key),
        Some(&QueueKey::Key("0123456789abcdef0123456789abcdef".into()))
    );
    assert_eq!(c.queue.ttl, Duration::from_secs(5 * 86_400));
    let h = |n: u64| Duration::from_secs(n * 3600);
    assert_eq!(c.bounce.warn_interval, vec![h(1), h(6), h(48)]);
    assert_eq!(c.srs.key.as_deref(), Some("k1"));
    assert_eq!(c.srs.key_backup.as_deref(), Some("k0"));
    assert_eq!(c.srs.ttl_days, 7);
    assert_eq!(c.mta.max_deferred, 200);
    assert_eq!(c.mta.limits.family, Some(Family::Inet4));
    assert_eq!(c.mta.limits.counts.max_conn_per_host, 2);
    // A domain's limits start from the defaults as set so far.
    let d = &c.mta.domain_limits[0];
    assert_eq!(d.domain, "gmail.com");
    assert_eq!(d.limits.counts.max_conn_per_host, 2);
    assert_eq!(d.limits.counts.max_conn_per_route, 1);
    assert_eq!(d.limits.family, Some(Family::Inet4));
    assert_eq!(c.mda.limits.max_session, 10);
    assert_eq!(c.mda.limits.max_session_per_user, 2);
    assert_eq!(c.scheduler.max_inflight, 100);
    assert_eq!(c.admd.as_deref(), Some("mx.example.org"));
}

#[test]
fn defaults() {
    let c = with_rule("");
    assert_eq!(c.smtp.max_message_size, 35 * 1024 * 1024);
    assert_eq!((c.smtp.max_rcpt, c.smtp.max_mails), (1000, 100));
    assert_eq!(c.smtp.sub_addr_delim, '+');
    assert_eq!(c.queue.ttl, Duration::from_secs(4 * 86_400));
    assert_eq!(c.bounce.warn_interval, vec![Duration::from_secs(4 * 3600)]);
    assert_eq!(c.srs.ttl_days, 4);
    assert_eq!(c.mta.max_deferred, 100);
    assert_eq!(c.mta.limits.counts.max_conn_per_host, 10);
    assert_eq!(c.mta.limits.counts.conn_delay_relay, 2);
    assert_eq!(c.mda.limits.max_session, 50);
    assert_eq!(c.scheduler.max_evp_batch_size, 256);
    let c = with_rule("queue encryption\n");
    assert_eq!(c.queue.encryption.map(|e| e.key), Some(QueueKey::Prompt));
    let c = with_rule("queue encryption stdin\n");
    assert_eq!(c.queue.encryption.map(|e| e.key), Some(QueueKey::Stdin));
}

#[test]
fn inline_and_literal_tables_get_generated_names() {
    let c = ok("action a mbox alias { root = admin }\nmatch from src { 10.0.0.0/8 } for domain \"ex.org\" action a\n");
    let names: Vec<(&str, TableOrigin)> = c
        .tables
        .iter()
        .map(|t| (t.name.as_str(), t.origin))
        .collect();
    assert_eq!(
        names,
        vec![
            ("<anon:1>", TableOrigin::Inline),
            ("<anon:2>", TableOrigin::Inline),
            ("<anon:3>", TableOrigin::Literal)
        ]
    );
    // Builtin names need no declaration.
    let c = ok("action a mbox userbase <getpwnam>\nmatch from src <localhost> for any action a\n");
    assert!(c.tables.is_empty());
    assert!(is_builtin_table("anydestination"));
}

#[test]
fn table_uses_name_their_services() {
    let c = ok(
        "table a { root = x }\ntable n { 10.0.0.0/8 }\naction l mbox alias <a>\n\
                match from src <n> for domain regex \"x\" action l\n",
    );
    let uses: Vec<(String, Service)> = c
        .table_uses()
        .into_iter()
        .map(|u| (u.table, u.service))
        .collect();
    assert_eq!(
        uses,
        vec![
            ("a".to_string(), Service::Alias),
            ("n".to_string(), Service::Netaddr),
            ("<anon:1>".to_string(), Service::Regex)
        ]
    );
}

#[test]
fn crlf_files_are_read_like_lf_files() {
    let lf = "table t { a, b }\nlisten on lo0 \\\n  port 25\naction \"x\" mbox\nmatch for local action \"x\"\n";
    let crlf = lf.replace('\n', "\r\n");
    assert_eq!(common::stripped(ok(lf)), common::stripped(ok(&crlf)));
}

#[test]
fn serializes_with_postcard() {
    let c = ok(&std::fs::read_to_string(common::corpus_dir().join("modern/002.conf")).unwrap());
    let bytes = postcard::to_allocvec(&c).expect("serialize");
    let back: Config = postcard::from_bytes(&bytes).expect("deserialize");
    assert_eq!(back, c);
}
