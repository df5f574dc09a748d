//! `smtpd -n`: the configuration check as an administrator runs it — exit
//! status, `configuration OK`, every error as FILE:LINE:COL on standard
//! error, `--syntax-only` and `--print`.

use std::path::Path;
use std::process::{Command, Output};

const SMTPD: &str = env!("CARGO_BIN_EXE_smtpd");

fn check(args: &[&str], dir: &Path) -> Output {
    Command::new(SMTPD)
        .arg("-n")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running smtpd -n")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn a_valid_file_is_ok() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "ok.conf",
        "listen on 127.0.0.1 port 2599\naction \"local\" maildir\nmatch from any for domain \"example.org\" action \"local\"\n",
    );
    let out = check(&["-f", &f], d.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("configuration OK"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn every_error_is_reported_with_file_line_and_column() {
    let d = tempfile::tempdir().unwrap();
    let inc = write(d.path(), "inc.conf", "action \"x\" frobnicate\n");
    let f = write(
        d.path(),
        "bad.conf",
        &format!(
            "listen on 127.0.0.1 port 2599\nmatch from any for any action \"nosuch\"\ninclude \"{inc}\"\ntable t {{ }}\n"
        ),
    );
    let out = check(&["-f", &f], d.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("configuration OK"));
    let lines: Vec<&str> = err.lines().collect();
    // One line per error, each FILE:LINE:COL: message.
    assert!(lines.len() >= 3, "{err}");
    assert!(
        lines.iter().any(|l| l.starts_with(&format!("{f}:2:"))),
        "{err}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(&format!("{inc}:1:"))),
        "{err}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(&format!("{f}:4:"))),
        "{err}"
    );
    for l in lines {
        let mut parts = l.splitn(4, ':');
        let (_file, line, col) = (parts.next(), parts.next(), parts.next());
        assert!(
            line.unwrap_or("").parse::<u32>().is_ok(),
            "no line number in {l:?}"
        );
        assert!(
            col.unwrap_or("").parse::<u32>().is_ok(),
            "no column in {l:?}"
        );
    }
}

#[test]
fn syntax_only_does_not_open_tables_but_the_full_check_does() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "t.conf",
        "table aliases file:/nonexistent/aliases\nlisten on 127.0.0.1 port 2599\naction \"local\" mbox alias <aliases>\nmatch for local action \"local\"\n",
    );
    let out = check(&["--syntax-only", "-f", &f], d.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = check(&["-f", &f], d.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with(&format!("{f}:1:")), "{err}");
    assert!(err.contains("/nonexistent/aliases"), "{err}");
}

#[test]
fn print_converts_the_old_grammar_and_reads_back() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "old.conf",
        "listen on lo\ntable aliases { root = alice }\naccept from any for domain \"example.org\" alias <aliases> deliver to maildir\naccept for any relay\n",
    );
    let out = check(&["--print", "-f", &f], d.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(printed.contains("match "), "{printed}");
    assert!(printed.contains("action "), "{printed}");
    assert!(!printed.contains("accept "), "{printed}");
    // The printed text is a valid configuration that prints the same.
    let g = write(d.path(), "new.conf", &printed);
    let again = check(&["--print", "-f", &g], d.path());
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(String::from_utf8(again.stdout).unwrap(), printed);
}

#[test]
fn macros_from_the_command_line_win() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "m.conf",
        "lport = \"not-a-port\"\nlisten on 127.0.0.1 port $lport\naction \"l\" maildir\nmatch for local action \"l\"\n",
    );
    let out = check(&["-f", &f], d.path());
    assert_eq!(out.status.code(), Some(1));
    let out = check(&["-D", "lport=2599", "-f", &f], d.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn crlf_files_are_read() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "crlf.conf",
        "listen on 127.0.0.1 port 2599\r\naction \"local\" maildir\r\nmatch for local action \"local\"\r\n",
    );
    let out = check(&["-f", &f], d.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
