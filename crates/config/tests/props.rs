//! Property tests: no input makes the lexer or parser panic, every error
//! has a position, and whatever parses prints to text that parses back.

use proptest::prelude::*;
use smtpd_config::{parse_bytes, parse_str, print, ParseOptions};

const PIECES: &[&str] = &[
    "listen",
    "on",
    "socket",
    "lo0",
    "egress",
    "localhost",
    "all",
    "any",
    "port",
    "25",
    "587",
    "smtps",
    "tls",
    "tls-require",
    "verify",
    "secure",
    "ssl",
    "pki",
    "certificate",
    "cert",
    "key",
    "ca",
    "auth",
    "auth-optional",
    "tag",
    "hostname",
    "mask-src",
    "mask-source",
    "filter",
    "table",
    "t",
    "aliases",
    "file:/etc/x",
    "\"/etc/x\"",
    "action",
    "a",
    "\"a\"",
    "mbox",
    "maildir",
    "lmtp",
    "\"h:24\"",
    "mda",
    "\"cmd\"",
    "relay",
    "host",
    "via",
    "smtp://h:25",
    "tls+auth://l@h",
    "backup",
    "mx",
    "helo",
    "src",
    "match",
    "from",
    "for",
    "domain",
    "local",
    "rdns",
    "regex",
    "mail-from",
    "rcpt-to",
    "reject",
    "accept",
    "deliver",
    "to",
    "alias",
    "virtual",
    "userbase",
    "expire",
    "4d",
    "35M",
    "forward-only",
    "sender",
    "tagged",
    "authenticated",
    "source",
    "queue",
    "ttl",
    "smtp",
    "max-message-size",
    "limit",
    "mta",
    "max-conn-per-host",
    "inet4",
    "srs",
    "bounce",
    "warn-interval",
    "phase",
    "connect",
    "junk",
    "proc",
    "proc-exec",
    "chain",
    "10.0.0.0/8",
    "127.0.0.1",
    "::1",
    "example.org",
    "{",
    "}",
    "<",
    ">",
    "!",
    ",",
    "=",
    "=>",
    "\n",
    "\\\n",
    "#c\n",
    "\r\n",
    "$m",
    "m = \"v\"",
    "'q'",
    "\"unterminated",
    "\\",
    "%",
    "/",
    "\0",
];

/// Random pieces, then a rule so that a fair share of inputs is valid.
fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..14)
        .prop_map(|v| v.join(" ") + "\nmatch for any reject\n")
}

/// Declarations every generated statement may refer to.
const PRELUDE: &str = "table t { a, b }\ntable m { k = v }\npki p cert \"/c\"\n\
    filter f proc-exec \"x\"\nsrs key \"k\"\naction a0 mbox\n";

const LISTEN: &[&str] = &[
    "port 2525",
    "inet4",
    "inet6",
    "tag T",
    "hostname h.example",
    "mask-src",
    "no-dsn",
    "proxy-v2",
    "received-auth",
    "filter f",
    "filter { f }",
    "tls pki p",
    "smtps pki p",
    "tls-require verify pki p",
    "auth",
    "auth-optional <m>",
    "senders <m> masquerade",
    "hostnames <m>",
    "ca c",
    "protocols \"tlsv1.3\"",
];
const TARGETS: &[&str] = &[
    "lo0",
    "127.0.0.1",
    "\"::1\"",
    "all",
    "localhost",
    "socket",
    "eth0",
];
const METHODS: &[&str] = &[
    "mbox",
    "maildir",
    "maildir junk",
    "maildir \"~/M\"",
    "lmtp \"/s\" rcpt-to",
    "mda \"c\"",
    "forward-only",
    "expand-only",
    "relay",
    "relay host \"smtp+tls://l@h:587\" auth <m>",
    "relay backup mx mx1",
    "relay helo h src <t> srs tls no-verify",
    "relay domain <m>",
    "relay filter { f } mail-from \"@x\"",
];
const LOCAL_OPTS: &[&str] = &[
    "alias <m>",
    "virtual { x = y }",
    "userbase <m>",
    "user u",
    "ttl 2h",
];
const CONDS: &[&str] = &[
    "from any",
    "from local",
    "!from local",
    "from socket",
    "from src <t>",
    "from src regex \"x\"",
    "from auth",
    "from auth <t>",
    "from rdns",
    "from mail-from \"@x\"",
    "for any",
    "for local",
    "for domain <t>",
    "!for domain { x, y }",
    "for rcpt-to <t>",
    "auth",
    "!auth",
    "helo <t>",
    "mail-from <t>",
    "rcpt-to regex <t>",
    "tag T",
    "tls",
    "!tls",
];

fn statement() -> impl Strategy<Value = String> {
    let pick = |v: &'static [&'static str], n| prop::collection::vec(prop::sample::select(v), 0..n);
    prop_oneof![
        (prop::sample::select(TARGETS), pick(LISTEN, 4))
            .prop_map(|(t, o)| format!("listen on {t} {}", o.join(" "))),
        (0u8..5, prop::sample::select(METHODS), pick(LOCAL_OPTS, 3))
            .prop_map(|(n, m, o)| format!("action a{n} {m} {}", o.join(" "))),
        (pick(CONDS, 4), 0u8..5, any::<bool>()).prop_map(|(c, n, rej)| {
            let d = if rej {
                "reject".to_string()
            } else {
                format!("action a{n}")
            };
            format!("match {} {d}", c.join(" "))
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..400)) {
        let p = parse_bytes("fuzz.conf", &data, &ParseOptions::default());
        for d in &p.diags {
            prop_assert!(d.line >= 1 && d.col >= 1, "{d}");
            prop_assert_eq!(d.file.as_str(), "fuzz.conf");
        }
    }

    #[test]
    fn token_soup_never_panics_and_prints_back(text in soup()) {
        let opts = ParseOptions { macros: vec![("m".into(), "lo0 tls".into())] };
        let p = parse_str("soup.conf", &text, &opts);
        for d in &p.diags {
            prop_assert!(d.line >= 1 && d.col >= 1, "{d}");
        }
        if p.is_ok() {
            let printed = print(&p.config);
            let again = parse_str("printed.conf", &printed, &ParseOptions::default());
            prop_assert!(again.is_ok(), "{text:?}\nprinted:\n{printed}\n{:?}", again.diags);
            prop_assert_eq!(print(&again.config), printed);
        }
    }

    /// Generated statements of today's grammar: whatever is valid prints
    /// back to the same configuration.
    #[test]
    fn generated_statements_round_trip(lines in prop::collection::vec(statement(), 1..8)) {
        let text = format!("{PRELUDE}{}\nmatch for any reject\n", lines.join("\n"));
        let p = parse_str("gen.conf", &text, &ParseOptions::default());
        if p.is_ok() {
            let printed = print(&p.config);
            let again = parse_str("printed.conf", &printed, &ParseOptions::default());
            prop_assert!(again.is_ok(), "{text}\nprinted:\n{printed}\n{:?}", again.diags);
            let (mut a, mut b) = (p.config, again.config);
            a.strip_spans();
            b.strip_spans();
            prop_assert_eq!(a, b, "{}\nprinted:\n{}", text, printed);
        }
    }

    #[test]
    fn valid_lines_with_noise(
        noise in prop::collection::vec(prop::sample::select(PIECES), 0..8),
        at in 0usize..6,
    ) {
        let mut lines = vec![
            "table t { a, b }", "listen on lo0 port 2525", "action \"x\" mbox alias { r = u }",
            "match from any for domain <t> action \"x\"", "accept for any relay", "queue ttl 2d",
        ];
        let bad = noise.join(" ");
        lines.insert(at, &bad);
        let text = lines.join("\n");
        let p = parse_str("n.conf", &text, &ParseOptions::default());
        // Whatever the noise line does, errors stay within the file.
        let total = text.lines().count() as u32 + 1;
        for d in &p.diags {
            prop_assert!(d.line >= 1 && d.line <= total, "{d}");
        }
    }
}
