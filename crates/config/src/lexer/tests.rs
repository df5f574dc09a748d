//! Lexer tests: the rules of OpenSMTPD's yylex this lexer reproduces.
use super::*;

fn lex_all(text: &str, macros: &[(&str, &str)]) -> (Vec<(Tok, u32, u32)>, Vec<Diag>) {
    let m: Vec<(String, String)> = macros
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut lx = Lexer::new("t.conf", text.as_bytes().to_vec(), &m);
    let mut out = Vec::new();
    loop {
        let t = lx.next_token();
        if t.tok == Tok::Eof {
            break;
        }
        out.push((t.tok, t.pos.line, t.pos.col));
    }
    (out, lx.take_diags())
}

fn words(text: &str) -> Vec<String> {
    lex_all(text, &[])
        .0
        .into_iter()
        .map(|(t, _, _)| match t {
            Tok::Word { text, quoted: true } => format!("\"{text}\""),
            Tok::Word { text, .. } => text,
            Tok::Newline => "NL".into(),
            Tok::Other(b) => format!("?{}", b as char),
            other => format!("{other:?}"),
        })
        .collect()
}

fn w(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn words_and_punctuation() {
    assert_eq!(
        words("table t { a, b = c => d } <x> !y"),
        w(&[
            "table", "t", "LBrace", "a", "Comma", "b", "Eq", "c", "Arrow", "d", "RBrace", "LAngle",
            "x", "RAngle", "Bang", "y", "NL"
        ])
    );
    // URLs, paths after a letter, IPv6, unit numbers are single words.
    assert_eq!(
        words("tls+auth://u@h:587 file:/etc/x ::1 2001:db8::1 35M 4d"),
        w(&[
            "tls+auth://u@h:587",
            "file:/etc/x",
            "::1",
            "2001:db8::1",
            "35M",
            "4d",
            "NL"
        ])
    );
    // `%`, `/`, `@`, `*`, `-` cannot start a word.
    assert_eq!(words("%{x}"), w(&["?%", "LBrace", "x", "RBrace", "NL"]));
    assert_eq!(words("/etc"), w(&["?/", "etc", "NL"]));
}

#[test]
fn comments_and_positions() {
    let (toks, _) = lex_all("a # comment\n  b#c\n", &[]);
    let pos: Vec<(u32, u32)> = toks.iter().map(|(_, l, c)| (*l, *c)).collect();
    assert_eq!(pos, vec![(1, 1), (1, 12), (2, 3), (2, 6)]);
}

#[test]
fn quoted_strings() {
    assert_eq!(words(r#""a \"q\" b""#), w(&["\"a \"q\" b\"", "NL"]));
    assert_eq!(words(r"'x\.y'"), w(&["\"x\\.y\"", "NL"]));
    // A raw newline and a backslash-newline inside quotes are dropped.
    assert_eq!(words("\"ab\\\ncd\"\n"), w(&["\"abcd\"", "NL"]));
    assert_eq!(words("\"ab\ncd\"\n"), w(&["\"abcd\"", "NL"]));
    let (toks, diags) = lex_all("x \"never closed\nmore", &[]);
    assert_eq!(toks[1].0, Tok::Invalid);
    assert_eq!((diags[0].line, diags[0].col), (1, 3));
    assert!(diags[0].message.contains("end of file"));
}

#[test]
fn continuation() {
    // Backslash-newline joins lines; line numbers keep counting.
    let (toks, _) = lex_all("a \\\n  b\nc", &[]);
    let v: Vec<(u32, u32)> = toks.iter().map(|(_, l, c)| (*l, *c)).collect();
    assert_eq!(v, vec![(1, 1), (2, 3), (2, 4), (3, 1), (3, 2)]);
    // Backslash then spaces: no continuation (corpus modern/017).
    assert_eq!(words("a \\  \nb"), w(&["a", "NL", "b", "NL"]));
}

#[test]
fn crlf() {
    assert_eq!(
        words("a b\r\nc \\\r\nd\r\n"),
        w(&["a", "b", "NL", "c", "d", "NL"])
    );
    // A lone CR is not whitespace.
    assert_eq!(words("a\rb"), w(&["a", "?\r", "b", "NL"]));
}

#[test]
fn macros() {
    let (toks, diags) = lex_all("x $m y\n$m$m", &[("m", "a { b }")]);
    assert!(diags.is_empty());
    let names: Vec<String> = toks
        .iter()
        .map(|(t, _, _)| match t {
            Tok::Word { text, .. } => text.clone(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        w(&[
            "x", "a", "LBrace", "b", "RBrace", "y", "Newline", "a", "LBrace", "b", "RBrace", "a",
            "LBrace", "b", "RBrace", "Newline"
        ])
    );
    // Expanded tokens carry the position of `$m`.
    assert_eq!((toks[2].1, toks[2].2), (1, 3));
    // No expansion inside an expansion, nor inside a word.
    let (toks, _) = lex_all("$a foo$b", &[("a", "$b"), ("b", "z")]);
    assert_eq!(toks[0].0, Tok::Other(b'$'));
    assert!(matches!(&toks[2].0, Tok::Word { text, .. } if text == "foo$b"));
    let (toks, diags) = lex_all("a $nope b\nc", &[]);
    assert_eq!(toks[1].0, Tok::Invalid);
    assert_eq!(diags[0].message, "macro 'nope' not defined");
    assert!(matches!(&toks[3].0, Tok::Word { text, .. } if text == "c"));
}

#[test]
fn file_definitions_do_not_override_command_line() {
    let mut lx = Lexer::new("t", b"$m".to_vec(), &[("m".into(), "cli".into())]);
    lx.define("m".into(), "file".into());
    assert!(matches!(lx.next_token().tok, Tok::Word { text, .. } if text == "cli"));
}

proptest::proptest! {
    /// Any bytes lex to EOF in a bounded number of tokens, with valid
    /// positions, without panicking.
    #[test]
    fn any_bytes_lex_to_eof(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        let mut lx = Lexer::new("p", data.clone(), &[("m".into(), "$m \\".into())]);
        let mut n = 0;
        loop {
            let t = lx.next_token();
            proptest::prop_assert!(t.pos.line >= 1 && t.pos.col >= 1);
            if t.tok == Tok::Eof {
                break;
            }
            n += 1;
            proptest::prop_assert!(n <= data.len() * 4 + 4, "no progress");
        }
    }
}

#[test]
fn long_words_are_errors() {
    let long = "a".repeat(MAX_WORD + 10);
    let (toks, diags) = lex_all(&long, &[]);
    assert_eq!(toks[0].0, Tok::Invalid);
    assert_eq!(diags[0].message, "string too long");
}
