use super::*;

fn auto(text: &str) -> ParsedTable {
    parse_table_text(text, ParseMode::Auto).unwrap()
}

fn pairs(t: &ParsedTable) -> Vec<(&str, Option<&str>)> {
    t.entries
        .iter()
        .map(|e| (e.key.as_str(), e.value.as_deref()))
        .collect()
}

#[test]
fn list_detected_from_first_entry() {
    let t = auto("# domains\n\nexample.org\n  *.example.net   # wildcard\nfoo bar\n");
    assert_eq!(t.kind, TableKind::List);
    assert_eq!(
        pairs(&t),
        vec![
            ("example.org", None),
            ("*.example.net", None),
            ("foo bar", None)
        ]
    );
    assert_eq!(t.entries[1].line, 4);
}

#[test]
fn mapping_forms() {
    let t = auto("joe\tjoe@example.org\nann: ann@example.org\nbob : bob\ncarol:carol\n[::1]  localhost\n::1 ip6-localhost\nipv6:::2 two\nlabel user:pass#word\n");
    assert_eq!(t.kind, TableKind::Mapping);
    assert_eq!(
        pairs(&t),
        vec![
            ("joe", Some("joe@example.org")),
            ("ann", Some("ann@example.org")),
            ("bob", Some("bob")),
            ("carol", Some("carol")),
            ("[::1]", Some("localhost")),
            ("::1", Some("ip6-localhost")),
            ("ipv6:::2", Some("two")),
            ("label", Some("user:pass#word")),
        ]
    );
}

#[test]
fn ip_lists() {
    let t = auto("::1\nipv6:::1\n[::1]\n192.168.0.0/16\nfe80::/10\n");
    assert_eq!(t.kind, TableKind::List);
    assert_eq!(t.entries.len(), 5);
    assert_eq!(t.entries[1].key, "ipv6:::1");
}

#[test]
fn at_list_forces_a_list() {
    let t = auto("# @list\n^[a-z]+:x$\nuser name\n");
    assert_eq!(t.kind, TableKind::List);
    assert_eq!(pairs(&t), vec![("^[a-z]+:x$", None), ("user name", None)]);
    // Only before the first entry.
    let t = auto("a b\n# @list\nc d\n");
    assert_eq!(t.kind, TableKind::Mapping);
}

#[test]
fn empty_file_is_a_mapping() {
    assert_eq!(auto("").kind, TableKind::Mapping);
    assert_eq!(auto("# nothing\n\n").kind, TableKind::Mapping);
    assert_eq!(
        parse_table_text("", ParseMode::List).unwrap().kind,
        TableKind::List
    );
}

#[test]
fn continuation_lines() {
    let t = auto("staff: ann,\n  bob,\n\tcarol\nroot: staff\n  # comment\n");
    assert_eq!(
        pairs(&t),
        vec![("staff", Some("ann, bob, carol")), ("root", Some("staff"))]
    );
    // Without a trailing comma an indented line is an entry of its own.
    let t = auto("a: b\n  c: d\n");
    assert_eq!(pairs(&t), vec![("a", Some("b")), ("c", Some("d"))]);
}

#[test]
fn crlf_is_tolerated() {
    let t = auto("a b\r\nc d\r\n");
    assert_eq!(pairs(&t), vec![("a", Some("b")), ("c", Some("d"))]);
}

#[test]
fn errors_carry_line_numbers() {
    let e = parse_table_text("a b\nc\n", ParseMode::Auto).unwrap_err();
    assert_eq!(
        e,
        LineError {
            line: 2,
            kind: LineErrorKind::MissingValue { key: "c".into() }
        }
    );
    let e = parse_table_text("a:\n", ParseMode::Auto).unwrap_err();
    assert_eq!(e.kind, LineErrorKind::MissingValue { key: "a".into() });
    let e = parse_table_text("[::1 x\n", ParseMode::Auto).unwrap_err();
    assert_eq!(e.kind, LineErrorKind::UnterminatedBracket);
    let e = parse_table_text(": x\n", ParseMode::Auto).unwrap_err();
    assert_eq!(e.kind, LineErrorKind::EmptyKey);
    let e = parse_table_bytes(b"a b\n\xff\xfe x\n", ParseMode::Auto).unwrap_err();
    assert_eq!((e.line, e.kind), (2, LineErrorKind::NotUtf8));
    let e = parse_table_bytes(b"a\0 b\n", ParseMode::Auto).unwrap_err();
    assert_eq!((e.line, e.kind), (1, LineErrorKind::NulByte));
    let e = parse_table_text("a\n", ParseMode::Mapping).unwrap_err();
    assert_eq!(e.line, 1);
}

#[test]
fn comments() {
    assert_eq!(strip_comment("a b # c"), "a b ");
    assert_eq!(strip_comment("# c"), "");
    assert_eq!(strip_comment("a#b"), "a#b");
    assert_eq!(strip_comment("a\t#b"), "a\t");
}
