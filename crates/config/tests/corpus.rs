//! Every real-world smtpd.conf of the shared corpus gets the verdict
//! `expected.tsv` gives it from the syntax-only check.

use std::path::{Path, PathBuf};

use smtpd_config::{check_syntax, ParseOptions};

/// `/work/shared` sits beside the repository root; a git worktree one
/// level deeper (`/work/wt/NAME`) finds it one more level up.
fn corpus_dir() -> PathBuf {
    let beside_root = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/smtpd-conf"
    ));
    if beside_root.exists() {
        return beside_root;
    }
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../../shared/corpus/smtpd-conf"
    ))
}

#[test]
fn corpus_verdicts() {
    let dir = corpus_dir();
    let tsv = std::fs::read_to_string(dir.join("expected.tsv")).expect("expected.tsv");
    let mut failures = Vec::new();
    let mut checked = 0;
    for line in tsv.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, verdict, bad_line) = (cols[0], cols[1], cols[2]);
        if verdict == "SKIP" {
            continue;
        }
        checked += 1;
        let path = dir.join(file);
        let diags = check_syntax(Path::new(&path), &ParseOptions::default());
        match verdict {
            "ACCEPT" => {
                if !diags.is_empty() {
                    let all: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
                    failures.push(format!(
                        "{file}: expected ACCEPT, got:\n  {}",
                        all.join("\n  ")
                    ));
                }
            }
            "REJECT" => {
                let allowed: Vec<u32> = bad_line
                    .split('-')
                    .map(|n| n.parse().expect("line number"))
                    .collect();
                let (lo, hi) = (allowed[0], *allowed.last().unwrap());
                match diags.first() {
                    None => {
                        failures.push(format!("{file}: expected REJECT at {bad_line}, got ACCEPT"))
                    }
                    Some(d) if d.line < lo || d.line > hi => failures.push(format!(
                        "{file}: expected first error at line {bad_line}, got {d}"
                    )),
                    Some(_) => {}
                }
            }
            other => panic!("unknown verdict {other}"),
        }
    }
    assert!(checked > 50, "corpus not found or empty");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
