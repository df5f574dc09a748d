//! Running the real clients the tests drive the server with: Python's
//! smtplib (scripts under tests/scripts/) and swaks.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The path of a script under tests/scripts/.
pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts")
        .join(name)
}

/// Is this program on the PATH?
pub fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .map(|o| o.status.success() || !o.stdout.is_empty() || !o.stderr.is_empty())
        .unwrap_or(false)
}

/// Run `python3 -c CODE ARGS…`.
pub fn python(code: &str, args: &[&str]) -> Output {
    Command::new("python3")
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .expect("running python3")
}

/// Run a script of tests/scripts/ with python3.
pub fn python_script(name: &str, args: &[&str]) -> Output {
    Command::new("python3")
        .arg(script(name))
        .args(args)
        .output()
        .expect("running python3")
}

/// Run swaks with these arguments (never touching the outside: the
/// caller gives `--server 127.0.0.1:PORT`).
pub fn swaks(args: &[&str]) -> Output {
    Command::new("swaks")
        .args(args)
        .output()
        .expect("running swaks")
}

/// Both streams of an output, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "status={}\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
