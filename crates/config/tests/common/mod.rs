//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use smtpd_config::{parse_str, Config, ParseOptions, Parsed};

/// `/work/shared` sits beside the repository root; a git worktree one
/// level deeper (`/work/wt/NAME`) finds it one more level up.
pub fn shared_dir() -> PathBuf {
    let beside_root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared"));
    if beside_root.exists() {
        return beside_root;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../../shared"))
}

pub fn corpus_dir() -> PathBuf {
    shared_dir().join("corpus/smtpd-conf")
}

/// The corpus files with their verdict and expected line ("-" if none).
pub fn corpus() -> Vec<(PathBuf, String, String)> {
    let dir = corpus_dir();
    let tsv = std::fs::read_to_string(dir.join("expected.tsv")).expect("expected.tsv");
    tsv.lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (dir.join(c[0]), c[1].to_string(), c[2].to_string())
        })
        .collect()
}

/// Parse text that must be valid; panics with the diagnostics otherwise.
pub fn ok(text: &str) -> Config {
    let p = parse_str("test.conf", text, &ParseOptions::default());
    assert!(
        p.diags.is_empty(),
        "unexpected errors: {:#?}\n--- in ---\n{text}",
        p.diags
    );
    p.config
}

/// Parse text that must be invalid; returns the parse.
pub fn bad(text: &str) -> Parsed {
    let p = parse_str("test.conf", text, &ParseOptions::default());
    assert!(!p.diags.is_empty(), "expected errors in:\n{text}");
    p
}

/// The first diagnostic's message and line.
pub fn first_error(text: &str) -> (String, u32) {
    let p = bad(text);
    (p.diags[0].message.clone(), p.diags[0].line)
}

pub fn stripped(mut c: Config) -> Config {
    c.strip_spans();
    c
}

/// The single value of a literal (or one-element inline) table.
pub fn only_literal(c: &Config, table: &str) -> String {
    match &c.table(table).expect("table").source {
        smtpd_config::TableSource::List(v) if v.len() == 1 => v[0].clone(),
        other => panic!("not a literal: {other:?}"),
    }
}
