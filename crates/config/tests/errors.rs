//! Every error the syntax check reports: message, position, and that
//! parsing goes on to report the next one.

mod common;

use common::{bad, first_error};
use smtpd_config::{parse_str, ParseOptions};

const R: &str = "match for any reject\n";

/// The first error's message must contain `needle`, on line `line`.
fn err(text: &str, line: u32, needle: &str) {
    let (msg, l) = first_error(text);
    assert!(
        msg.contains(needle),
        "{msg:?} does not contain {needle:?}\n--- in ---\n{text}"
    );
    assert_eq!(l, line, "{msg}\n--- in ---\n{text}");
}

#[test]
fn positions_and_display() {
    let p = bad(&format!("listen on lo0\n  listen on 10.0.0.0/8\n{R}"));
    let d = &p.diags[0];
    assert_eq!((d.file.as_str(), d.line, d.col), ("test.conf", 2, 13));
    assert!(d
        .to_string()
        .starts_with("test.conf:2:13: listen on 10.0.0.0/8:"));
}

#[test]
fn every_error_is_reported_and_parsing_goes_on() {
    let p = bad("listen on\nbogus statement\ntable t { }\naction a mbox\nmatch for local action a\nmatch for local action b\n");
    let lines: Vec<u32> = p.diags.iter().map(|d| d.line).collect();
    assert_eq!(lines, vec![1, 2, 3, 6]);
    assert_eq!(p.config.rules.len(), 1);
    // An unclosed '{' does not swallow the next statement.
    let p = bad(&format!("table t {{ a, b\nlisten on lo0\n{R}"));
    assert_eq!(p.diags.len(), 1);
    assert_eq!(p.diags[0].line, 1);
    assert_eq!(p.config.listeners.len(), 1);
}

#[test]
fn lexical() {
    err(
        &format!("listen on lo0 hostname \"unterminated\n{R}"),
        1,
        "end of file while parsing quoted string",
    );
    err(
        &format!("listen on $nope\n{R}"),
        1,
        "macro 'nope' not defined",
    );
    err(
        &format!("accept for any deliver to mda %{{rcpt}}\n{R}"),
        1,
        "found '%'",
    );
    err(&format!("table t \"/a\"\n\x01\n{R}"), 2, "byte 0x01");
    err(&format!("table t /etc/x\n{R}"), 1, "found '/'");
}

#[test]
fn statements() {
    err(
        &format!("hostname mx\n{R}"),
        1,
        "found 'hostname', expected a statement",
    );
    err(&format!("{R}auth <secrets>\n"), 2, "expected a statement");
    err("", 1, "no rules, nothing to do");
    err(
        &format!("\"a b\" = c\n{R}"),
        1,
        "macro name cannot contain whitespace",
    );
}

#[test]
fn reserved_words_and_numbers() {
    err(
        &format!("action relay relay\n{R}"),
        1,
        "found keyword 'relay', expected an action name",
    );
    err(&format!("action local mbox\n{R}"), 1, "keyword 'local'");
    err(&format!("table t {{ 25 }}\n{R}"), 1, "found number 25");
    // Quoted, they are strings.
    let p = parse_str(
        "t",
        &format!("action \"relay\" relay\n{R}"),
        &ParseOptions::default(),
    );
    assert!(p.is_ok(), "{:?}", p.diags);
}

#[test]
fn names_defined_once_and_before_use() {
    err(
        &format!("table a {{ x }}\ntable a {{ y }}\n{R}"),
        2,
        "table a defined twice",
    );
    err(
        &format!("action a mbox\naction a mbox\n{R}"),
        2,
        "dispatcher already declared with that name: a",
    );
    err(
        &format!("filter f proc-exec \"x\"\nfilter f proc-exec \"y\"\n{R}"),
        2,
        "filter already exists with that name: f",
    );
    err(
        &format!("proc p \"x\"\nproc p \"y\"\n{R}"),
        2,
        "processor already exists with that name: p",
    );
    err(
        &format!("mda wrapper w \"x\"\nmda wrapper w \"y\"\n{R}"),
        2,
        "mda wrapper already declared",
    );
    err(
        &format!("action a mbox alias <nope>\n{R}"),
        1,
        "no such table: nope",
    );
    err("match for any action nope\n", 1, "no such dispatcher: nope");
    err(
        &format!("listen on lo0 filter nope\n{R}"),
        1,
        "no filter exist with that name: nope",
    );
    err(
        &format!("filter f proc nope\n{R}"),
        1,
        "no processor exist with that name: nope",
    );
    err(
        &format!("action a mda \"x\" wrapper nope\n{R}"),
        1,
        "no mda wrapper with that name: nope",
    );
    err(
        &format!("listen on lo0 tls pki nope\n{R}"),
        1,
        "pki name not found: nope",
    );
    err(
        &format!("pki p cert \"/c\"\nlisten on lo0 tls pki p ca nope\n{R}"),
        2,
        "ca name not found: nope",
    );
    err(
        &format!("action a relay pki nope\n{R}"),
        1,
        "pki name not found: nope",
    );
    err(
        &format!("table \"<x>\" {{ a }}\n{R}"),
        1,
        "may not start with '<'",
    );
    err(
        &format!("action a mbox alias <aliases>\ntable aliases {{ a = b }}\n{R}"),
        1,
        "no such table: aliases",
    );
}

#[test]
fn tables() {
    err(&format!("table t {{  }}\n{R}"), 1, "empty inline table");
    err(&format!("table t {{ a, b = c }}\n{R}"), 1, "cannot mix");
    err(
        &format!("table t file:relative\n{R}"),
        1,
        "invalid backend parameter",
    );
    err(&format!("table t db\n{R}"), 1, "backend needs a path");
    // A table that cannot serve its use (when knowable statically).
    err(
        &format!("table l {{ a, b }}\naction a mbox alias <l>\n{R}"),
        2,
        "may not be used for alias lookups",
    );
    err(
        &format!("action a mbox virtual \"x\"\n{R}"),
        1,
        "may not be used for virtual lookups",
    );
    err(
        "table m { a = b }\nmatch from src <m> for any reject\n",
        2,
        "may not be used for src lookups",
    );
    err(
        &format!("action a mbox alias <getpwnam>\n{R}"),
        1,
        "\"getpwnam\" may not be used for alias lookups",
    );
    err(
        "match tag regex { a = b } for any reject\n",
        1,
        "may not be used for tag lookups",
    );
    err(
        &format!("action a relay host {{ a = b }}\n{R}"),
        1,
        "may not be used for host lookups",
    );
}

#[test]
fn listeners() {
    err(
        &format!("listen on 0.0.0.0/0\n{R}"),
        1,
        "a network (CIDR) is not an address or interface",
    );
    err(
        &format!("listen on 192.168.1.300\n{R}"),
        1,
        "invalid address",
    );
    err(
        &format!("listen on lo0 auth\n{R}"),
        1,
        "auth requires tls/smtps",
    );
    err(
        &format!("pki p cert \"/c\"\nlisten on lo0 pki p\n{R}"),
        2,
        "pki requires tls/smtps",
    );
    err(
        &format!("listen on lo0 port 2525 secure\n{R}"),
        1,
        "tls/smtps on same port",
    );
    err(
        &format!("listen on lo0 tls smtps\n{R}"),
        1,
        "TLS mode already specified",
    );
    err(
        &format!("listen on lo0 port 25 port 26\n{R}"),
        1,
        "port already specified",
    );
    err(
        &format!("listen on lo0 port 70000\n{R}"),
        1,
        "invalid port: 70000",
    );
    err(
        &format!("listen on lo0 port nosuchservice\n{R}"),
        1,
        "invalid port: nosuchservice",
    );
    err(
        &format!("listen on 127.0.0.1 inet6\n{R}"),
        1,
        "not an inet6 address",
    );
    err(
        &format!("listen on lo0 tag {}\n{R}", "x".repeat(32)),
        1,
        "tag name too long",
    );
    err(
        &format!("listen on socket port 25\n{R}"),
        1,
        "expected a socket listener option",
    );
    err(
        &format!("listen on socket\nlisten on socket\n{R}"),
        2,
        "socket listener already configured",
    );
    err(
        &format!("listen on lo0 frobnicate\n{R}"),
        1,
        "found 'frobnicate', expected a listen option",
    );
}

#[test]
fn actions() {
    err(
        &format!("action a mbox ttl 1d alias {{ a = b }}\n{R}"),
        1,
        "ttl must be the last option",
    );
    err(&format!("action a mbox ttl 1x\n{R}"), 1, "ttl");
    err(
        &format!("action a mbox user u\n{R}"),
        1,
        "user may not be specified",
    );
    err(
        &format!("action a forward-only user u\n{R}"),
        1,
        "user may not be specified for forward-only",
    );
    err(
        &format!("action a mbox alias {{ a = b }} virtual {{ a = b }}\n{R}"),
        1,
        "alias mapping already specified",
    );
    err(
        &format!("action a relay backup host \"mx\"\n{R}"),
        1,
        "backup and host are mutually exclusive",
    );
    err(
        &format!("action a relay auth {{ l = \"u:p\" }}\n{R}"),
        1,
        "auth may not be specified without host",
    );
    err(
        &format!("action a relay srs\n{R}"),
        1,
        "an srs key is required",
    );
    err(
        &format!("action a relay helo a helo b\n{R}"),
        1,
        "helo already specified",
    );
    err(
        &format!("action a relay host \"bogus://x\"\n{R}"),
        1,
        "invalid relay URL",
    );
    err(
        &format!("action a relay host \"lmtp://h\"\n{R}"),
        1,
        "needs an explicit port",
    );
    err(
        &format!("action a deliver\n{R}"),
        1,
        "expected a delivery method",
    );
}

#[test]
fn match_rules() {
    err(
        "match from any from local reject\n",
        1,
        "from already specified for this rule",
    );
    err("match from auth auth reject\n", 1, "auth already specified");
    err(
        "match for any for local reject\n",
        1,
        "for already specified",
    );
    err(
        "match from nowhere reject\n",
        1,
        "expected socket, local, any, src, rdns, auth or mail-from",
    );
    err(
        "match for any\n",
        1,
        "expected a match condition, 'action NAME' or 'reject'",
    );
}

#[test]
fn filters() {
    err(
        &format!("filter f phase connect match helo {{ x }} junk\n{R}"),
        1,
        "cannot be checked at the connect phase",
    );
    err(
        &format!("filter f phase commit match fcrdns junk\n{R}"),
        1,
        "not allowed at the commit phase",
    );
    err(
        &format!("filter f phase nowhen match fcrdns junk\n{R}"),
        1,
        "expected a filter phase",
    );
    err(
        &format!("filter f phase connect match fcrdns\n{R}"),
        1,
        "expected a filter decision",
    );
    err(
        &format!("filter a proc-exec \"x\"\nfilter c chain {{ a }}\nfilter d chain {{ c }}\n{R}"),
        3,
        "no filter chain allowed within a filter chain",
    );
    err(
        &format!("filter a proc-exec \"x\"\nfilter c chain {{ a, a }}\n{R}"),
        2,
        "no filter allowed twice",
    );
    err(
        &format!("proc p \"x\"\nfilter a proc p\nfilter b proc p\nfilter c chain {{ a, b }}\n{R}"),
        4,
        "no proc allowed twice",
    );
    err(
        &format!("listen on lo0 filter {{ }}\n{R}"),
        1,
        "empty filter chain",
    );
}

#[test]
fn globals() {
    err(
        &format!("smtp max-message-size 35Q\n{R}"),
        1,
        "invalid size: 35Q",
    );
    err(&format!("queue ttl 0d\n{R}"), 1, "invalid queue ttl");
    err(
        &format!("bounce warn-interval 1h, soon\n{R}"),
        1,
        "invalid bounce delay",
    );
    err(&format!("expire 4x\n{R}"), 1, "invalid expire");
    err(
        &format!("expire 4\n{R}"),
        1,
        "found number 4, expected a delay",
    );
    err(
        &format!("smtp sub-addr-delim \"@\"\n{R}"),
        1,
        "sub-addr-delim uses invalid character",
    );
    err(
        &format!("smtp sub-addr-delim \"++\"\n{R}"),
        1,
        "must be one character",
    );
    err(&format!("srs ttl 1h\n{R}"), 1, "too short");
    err(
        &format!("mta limit max-bogus 3\n{R}"),
        1,
        "invalid mta limit keyword: max-bogus",
    );
    err(
        &format!("scheduler limit max-inflight many\n{R}"),
        1,
        "expected a number",
    );
    err(
        &format!("smtp limit max-rcpt 99999999999999999999\n{R}"),
        1,
        "invalid number",
    );
    err(
        &format!("pki \"bad name!\" cert \"/c\"\n{R}"),
        1,
        "not a valid domain name",
    );
    err(
        &format!("pki <server> cert \"/c\"\n{R}"),
        1,
        "found '<', expected a pki name",
    );
    err(&format!("pki p dhe maybe\n{R}"), 1, "invalid DHE keyword");
    err(&format!("admd \"x\ty\"\n{R}"), 1, "not a valid admd");
}

#[test]
fn old_rules() {
    err(
        "accept for any relay forward-only\n",
        1,
        "forward-only may not be used with a default action",
    );
    err(
        "table a { r = u }\naccept for any alias <a> relay\n",
        2,
        "aliases/virtual may not be used with a relay rule",
    );
    err(
        "table u { r = \"1:1:/\" }\naccept for any userbase <u> relay\n",
        2,
        "userbase may not be used with a relay rule",
    );
    err(
        "accept for any relay via tls+auth://l@h\n",
        1,
        "auth without auth table",
    );
    err(
        "accept for any relay via smtp://h verify\n",
        1,
        "cannot \"verify\" with insecure protocol",
    );
    err("accept for any relay via bogus://h\n", 1, "invalid url");
    err(
        "accept for any deliver to lmtp nocolon\n",
        1,
        "invalid lmtp destination",
    );
    err(
        "accept from any from local for any relay\n",
        1,
        "from specified multiple times",
    );
    err(
        "accept for any expire 1d expire 2d\n",
        1,
        "expire specified multiple times",
    );
    err(
        "accept for any relay mx\n",
        1,
        "expected a relay option, expire or forward-only",
    );
    err(
        "accept tagged toolongtoolongtoolongtoolongtoolong for any relay\n",
        1,
        "tag name too long",
    );
}

#[test]
fn include_errors() {
    err(
        &format!("include \"/nonexistent/x.conf\"\n{R}"),
        1,
        "failed to include file /nonexistent/x.conf",
    );
    let dir = tempfile::tempdir().unwrap();
    let loop_file = dir.path().join("loop.conf");
    std::fs::write(&loop_file, "include \"loop.conf\"\n").unwrap();
    let p = smtpd_config::parse_file(&loop_file, &ParseOptions::default());
    assert!(
        p.diags.iter().any(|d| d.message.contains("nested deeper")),
        "{:?}",
        p.diags
    );
}
