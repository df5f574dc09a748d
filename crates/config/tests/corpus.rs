//! Every real-world smtpd.conf of the shared corpus gets the verdict
//! `expected.tsv` gives it from the syntax-only check; and every accepted
//! one survives `print`.

mod common;

use smtpd_config::{check_syntax, parse_file, parse_str, print, ParseOptions};

#[test]
fn corpus_verdicts() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (path, verdict, bad_line) in common::corpus() {
        if verdict == "SKIP" {
            continue;
        }
        checked += 1;
        let file = path.display();
        let diags = check_syntax(&path, &ParseOptions::default());
        match verdict.as_str() {
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
                let (lo, hi) = (allowed[0], allowed[allowed.len() - 1]);
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

/// Modern files: `parse(print(c)) == c`. All accepted files: printing is
/// idempotent and its output is valid.
#[test]
fn corpus_print_round_trip() {
    let opts = ParseOptions::default();
    for (path, verdict, _) in common::corpus() {
        if verdict != "ACCEPT" {
            continue;
        }
        let original = parse_file(&path, &opts);
        let text = print(&original.config);
        let again = parse_str("printed.conf", &text, &opts);
        assert!(
            again.diags.is_empty(),
            "{}: printed text does not parse: {:#?}\n{text}",
            path.display(),
            again.diags
        );
        let modern = path.to_string_lossy().contains("/modern/");
        if modern {
            assert_eq!(
                common::stripped(original.config.clone()),
                common::stripped(again.config.clone()),
                "{}: model changed through print:\n{text}",
                path.display()
            );
        }
        assert_eq!(
            print(&again.config),
            text,
            "{}: print is not idempotent",
            path.display()
        );
    }
}
