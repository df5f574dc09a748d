//! Delivery programs run through /bin/sh, with their results read back.

use smtpd_delivery::{run_mda, DeliveryContext, DeliveryError, MdaCommand, UserInfo};
use smtpd_types::MailAddr;
use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::path::Path;
use std::time::Duration;

fn ctx(home: &Path) -> DeliveryContext {
    let mut c = DeliveryContext::new(
        Some(MailAddr::new("alice", "example.org")),
        MailAddr::new("bob+lists", "example.net"),
        MailAddr::new("robert", "example.net"),
        UserInfo {
            username: "robert".into(),
            directory: home.to_str().unwrap().into(),
            shell: "/bin/sh".into(),
        },
    );
    c.subaddress = Some("lists".into());
    c
}

fn run(home: &Path, command: &str, message: &[u8]) -> Result<(), DeliveryError> {
    let cmd = MdaCommand::new(command, &ctx(home));
    run_mda(
        &cmd,
        &["Delivered-To: bob+lists@example.net".into()],
        &mut &message[..],
    )
}

#[test]
fn exit_zero_delivers_the_message_on_stdin() {
    let home = tempfile::tempdir().unwrap();
    run(
        home.path(),
        "cat > \"$HOME/out\"",
        b"Subject: x\n\nFrom here\n.\n",
    )
    .unwrap();
    assert_eq!(
        fs::read(home.path().join("out")).unwrap(),
        b"Delivered-To: bob+lists@example.net\nSubject: x\n\nFrom here\n.\n"
    );
}

#[test]
fn runs_in_home_with_exactly_the_mda_environment() {
    let home = tempfile::tempdir().unwrap();
    run(home.path(), "env > env.txt; pwd > pwd.txt", b"x\n").unwrap();
    let env: HashMap<String, String> = fs::read_to_string(home.path().join("env.txt"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let h = home.path().to_str().unwrap();
    let expect = [
        ("DOMAIN", "example.net"),
        ("EXTENSION", "lists"),
        ("HOME", h),
        ("LOCAL", "bob+lists"),
        ("LOGNAME", "robert"),
        ("ORIGINAL_RECIPIENT", "bob+lists@example.net"),
        (
            "PATH",
            "/usr/bin:/bin:/usr/sbin:/sbin:/usr/local/bin:/usr/local/sbin",
        ),
        ("RECIPIENT", "robert@example.net"),
        ("SENDER", "alice@example.org"),
        ("SHELL", "/bin/sh"),
        ("USER", "robert"),
    ];
    for (k, v) in expect {
        assert_eq!(env.get(k).map(String::as_str), Some(v), "{k}");
    }
    // nothing of our own environment leaks; the shell may add its own few
    for k in env.keys() {
        let ours = expect.iter().any(|(n, _)| n == k);
        assert!(
            ours || ["PWD", "OLDPWD", "SHLVL", "_"].contains(&k.as_str()),
            "leaked {k}"
        );
    }
    let pwd = fs::read_to_string(home.path().join("pwd.txt")).unwrap();
    assert_eq!(
        Path::new(pwd.trim()).canonicalize().unwrap(),
        home.path().canonicalize().unwrap()
    );
}

#[test]
fn tempfail_exit_codes() {
    let home = tempfile::tempdir().unwrap();
    for code in [75, 71] {
        let err = run(
            home.path(),
            &format!("cat >/dev/null; echo 'try later' >&2; exit {code}"),
            b"x\n",
        )
        .unwrap_err();
        assert!(err.is_temporary(), "{code}: {err}");
        assert_eq!(err.status().to_string(), "4.3.0");
        assert!(
            matches!(&err, DeliveryError::ProgramExit { code: c, last_line: Some(l) } if *c == code && l == "try later")
        );
    }
}

#[test]
fn other_exit_codes_are_permanent_with_the_last_line() {
    let home = tempfile::tempdir().unwrap();
    let err = run(
        home.path(),
        "cat >/dev/null; echo 'first problem' >&2; echo 'no such mailbox' >&2; echo >&2; exit 1",
        b"x\n",
    )
    .unwrap_err();
    assert!(!err.is_temporary());
    assert_eq!(
        err.reason(),
        "program exited with status 1: no such mailbox"
    );
    assert_eq!(err.status().to_string(), "5.3.0");

    let err = run(
        home.path(),
        "echo 'unknown user on stdout'; exit 67",
        b"x\n",
    )
    .unwrap_err();
    assert_eq!(err.status().to_string(), "5.1.1");
    assert!(err.reason().ends_with("unknown user on stdout"));

    let err = run(home.path(), "exit 2", b"x\n").unwrap_err();
    assert!(matches!(
        err,
        DeliveryError::ProgramExit {
            code: 2,
            last_line: None
        }
    ));
}

#[test]
fn killed_by_a_signal_is_temporary() {
    let home = tempfile::tempdir().unwrap();
    let err = run(home.path(), "echo dying >&2; kill -9 $$", b"x\n").unwrap_err();
    assert!(err.is_temporary());
    assert!(
        matches!(err, DeliveryError::ProgramKilled { signal: 9, .. }),
        "{err:?}"
    );
}

#[test]
fn timeout_kills_the_program_and_its_children() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = MdaCommand::new(
        "sleep 30 & sleep 30; echo never > never.txt",
        &ctx(home.path()),
    );
    cmd.timeout = Duration::from_millis(300);
    let err = run_mda(&cmd, &[], &mut &b"x\n"[..]).unwrap_err();
    assert!(err.is_temporary());
    assert!(
        matches!(err, DeliveryError::ProgramTimeout { .. }),
        "{err:?}"
    );
    assert!(!home.path().join("never.txt").exists());
}

#[test]
fn timeout_while_the_program_does_not_read() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = MdaCommand::new("sleep 30", &ctx(home.path()));
    cmd.timeout = Duration::from_millis(300);
    // far more than a pipe holds: the write blocks until the kill
    let big = vec![b'x'; 4 << 20];
    let err = run_mda(&cmd, &[], &mut &big[..]).unwrap_err();
    assert!(
        matches!(err, DeliveryError::ProgramTimeout { .. }),
        "{err:?}"
    );
}

#[test]
fn program_that_ignores_its_input_and_succeeds_has_delivered() {
    let home = tempfile::tempdir().unwrap();
    let big = vec![b'x'; 4 << 20];
    run(home.path(), "exit 0", &big).unwrap();
}

/// Some bytes, then a read error, as a failing queue disk would give.
struct FailingMessage(usize);

impl Read for FailingMessage {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0 == 0 {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        self.0 -= 1;
        buf[..5].copy_from_slice(b"part\n");
        Ok(5)
    }
}

#[test]
fn unreadable_message_never_reaches_the_program_as_whole() {
    let home = tempfile::tempdir().unwrap();
    let cmd = MdaCommand::new(
        "cat > part.txt; echo delivered > done.txt",
        &ctx(home.path()),
    );
    let err = run_mda(&cmd, &[], &mut FailingMessage(3)).unwrap_err();
    assert!(err.is_temporary());
    assert!(err.reason().starts_with("read message"), "{err}");
    // killed before it saw the end of its input
    assert!(!home.path().join("done.txt").exists());
}

#[test]
fn missing_shell_is_a_temporary_setup_problem() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = MdaCommand::new("true", &ctx(home.path()));
    cmd.shell = "/nonexistent/sh".into();
    let err = run_mda(&cmd, &[], &mut &b"x\n"[..]).unwrap_err();
    assert!(err.is_temporary());
    assert_eq!(err.status().to_string(), "4.3.5");
}
