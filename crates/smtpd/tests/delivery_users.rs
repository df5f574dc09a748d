//! Local delivery as real system users (root only: CI runs the suite as
//! root; elsewhere every test here prints a note and returns).
//!
//! What is checked: workers run as the recipient (files they create belong
//! to the user, `id` inside a command names the user); a `~/.forward` is
//! expanded with its owner's rights, while files and commands of the alias
//! table run as the server's user `_smtpd` (OpenSMTPD: `lka_submit()` sets
//! `mda_user` to `SMTPD_USER` for alias nodes); an insecure `.forward` is
//! refused; and an mbox spool laid out as Debian does (root:mail 2775)
//! works without putting the user in group mail.

mod support;

use std::path::Path;
use support::local::{wait_count, wait_delivered, wait_queue_empty};
use support::sysusers::{self, owner};
use support::{message, pymail};

const FROM: &str = "alice@remote.test";

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The users' real homes (the system's getpwnam): a Maildir under a name
/// of this test's own, owned by the user; `mda` commands run as the user,
/// with the user's groups only; nothing runs as root.
#[test]
fn system_users_get_their_own_files() {
    let Some((u1, u2, _)) = sysusers::setup("system_users_get_their_own_files") else {
        return;
    };
    let unique = format!(
        ".smtpd-e2e-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let conf = format!(
        r#"listen on 127.0.0.1 port {{PORT}}
action "md" maildir "%{{user.directory}}/{unique}/Maildir"
action "prog" mda "id > {{DIR}}/out/%{{user.username}}.id; cat > /dev/null"
match from any for domain "md.test" action "md"
match from any for domain "mda.test" action "prog"
"#
    );
    let s = sysusers::start(&conf, &[], |_| {});
    let body = message::tricky_body();
    let msg = message::message(FROM, "smtpdtest1@md.test", "real", &body);
    message::send_one(s.port, FROM, &["smtpdtest1@md.test"], &msg);
    message::send_one(s.port, FROM, &["smtpdtest2@mda.test"], &msg);
    message::send_one(s.port, FROM, &["root@mda.test"], &msg);
    wait_delivered(&s, 2);
    wait_count(&s, "PermFail", 1, std::time::Duration::from_secs(10));

    let home = nix::unistd::User::from_name(&u1.name).unwrap().unwrap().dir;
    let base = home.join(&unique);
    let md = base.join("Maildir");
    let result = std::panic::catch_unwind(|| {
        let mails = pymail::maildir(&md);
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].body(), &body[..]);
        mails[0].assert_delivery_headers(FROM, "smtpdtest1@md.test");
        for p in [base.clone(), md.clone(), md.join("new")] {
            assert_eq!(owner(&p), (u1.uid, u1.gid), "{}", p.display());
        }
        for f in sysusers::maildir_files(&md) {
            assert_eq!(owner(&f), (u1.uid, u1.gid), "{}", f.display());
        }
    });
    let _ = std::fs::remove_dir_all(&base);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }

    let id = read(&s.path("out/smtpdtest2.id"));
    assert!(
        id.starts_with(&format!(
            "uid={}(smtpdtest2) gid={}(smtpdtest2) groups={}(smtpdtest2)",
            u2.uid, u2.gid, u2.gid
        )),
        "{id}"
    );
    assert_eq!(owner(&s.path("out/smtpdtest2.id")).0, u2.uid);
    // Root's mail goes through an alias, never to a program as root.
    assert!(!s.path("out/root.id").exists());
    assert!(
        s.log.text().contains("MDA not allowed to deliver to root"),
        "{}",
        s.log.text()
    );
}

/// A `~/.forward` is read with its owner's rights and its entries run as
/// the owner: `|cmd` (checked with `id`), `/file` (created by the owner),
/// another user, and `\self` (the owner's own mailbox).
#[test]
fn forward_entries_run_as_its_owner() {
    let Some((u1, u2, _)) = sysusers::setup("forward_entries_run_as_its_owner") else {
        return;
    };
    let conf = r#"listen on 127.0.0.1 port {PORT}
action "md" maildir userbase <realusers>
match from any for domain "local.test" action "md"
"#;
    let s = sysusers::start(conf, &[&u1, &u2], |dir| {
        let fwd = format!(
            "# forwarded\n\"|id > {d}/out/forward.id\", {d}/out/forward.mbox\nsmtpdtest2, \\smtpdtest1\n",
            d = dir.display()
        );
        sysusers::write_as(&dir.join("home/smtpdtest1/.forward"), &fwd, &u1, 0o644);
    });
    let body = message::tricky_body();
    let msg = message::message(FROM, "smtpdtest1@local.test", "fwd", &body);
    message::send_one(s.port, FROM, &["smtpdtest1@local.test"], &msg);
    wait_delivered(&s, 4);
    wait_queue_empty(&s);

    let id = read(&s.path("out/forward.id"));
    assert!(
        id.starts_with(&format!("uid={}(smtpdtest1) gid={}", u1.uid, u1.gid)),
        "{id}"
    );
    let mbox = s.path("out/forward.mbox");
    assert_eq!(owner(&mbox), (u1.uid, u1.gid));
    let mails = pymail::mbox(&mbox);
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].body(), &message::mbox_quoted(&body)[..]);
    for u in [&u1, &u2] {
        let md = s.path(&format!("home/{}/Maildir", u.name));
        let mails = pymail::maildir(&md);
        assert_eq!(mails.len(), 1, "{}: one copy", u.name);
        assert_eq!(mails[0].body(), &body[..]);
        mails[0].assert_delivery_headers(FROM, "smtpdtest1@local.test");
        for f in sysusers::maildir_files(&md) {
            assert_eq!(owner(&f), (u.uid, u.gid), "{}", f.display());
        }
    }
}

/// Files and commands of the alias table run as the server's user
/// `_smtpd`, as OpenSMTPD does: the alias file is the administrator's, not
/// any user's, and root is never used.
#[test]
fn alias_entries_run_as_the_server_user() {
    let Some((u1, _, smtpd)) = sysusers::setup("alias_entries_run_as_the_server_user") else {
        return;
    };
    let conf = r#"table aliases { "pipe" = "|id > {DIR}/out/alias.id", "tofile" = "{DIR}/out/alias.mbox" }
listen on 127.0.0.1 port {PORT}
action "md" maildir alias <aliases> userbase <realusers>
match from any for domain "local.test" action "md"
"#;
    let s = sysusers::start(conf, &[&u1], |_| {});
    let msg = message::message(FROM, "pipe@local.test", "alias", b"to the alias\n");
    message::send_one(
        s.port,
        FROM,
        &["pipe@local.test", "tofile@local.test"],
        &msg,
    );
    wait_delivered(&s, 2);
    let id = read(&s.path("out/alias.id"));
    assert!(
        id.starts_with(&format!("uid={}(_smtpd) gid={}", smtpd.uid, smtpd.gid)),
        "{id}"
    );
    let mbox = s.path("out/alias.mbox");
    assert_eq!(owner(&mbox).0, smtpd.uid);
    let mails = pymail::mbox(&mbox);
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].body(), b"to the alias\n");
    mails[0].assert_delivery_headers(FROM, "tofile@local.test");
}

/// A `.forward` others could have written (or in a home others can write)
/// is refused: the recipient is rejected permanently, as OpenSMTPD does —
/// an administrator sees the refusal at once (in the bounce and the log)
/// rather than mail piling up for days behind a file nobody will fix by
/// waiting. Once the mode is fixed, the same recipient is accepted and
/// forwarded.
#[test]
fn insecure_forward_is_refused() {
    let Some((u1, u2, _)) = sysusers::setup("insecure_forward_is_refused") else {
        return;
    };
    let conf = r#"listen on 127.0.0.1 port {PORT}
action "md" maildir userbase <realusers>
match from any for domain "local.test" action "md"
"#;
    let s = sysusers::start(conf, &[&u1, &u2], |dir| {
        let fwd = dir.join("home/smtpdtest1/.forward");
        sysusers::write_as(&fwd, "smtpdtest2\n", &u1, 0o664);
    });
    let fwd = s.path("home/smtpdtest1/.forward");
    for (file_mode, home_mode) in [(0o664, 0o755), (0o646, 0o755), (0o644, 0o775)] {
        sysusers::set_mode(&fwd, file_mode);
        sysusers::set_mode(&s.path("home/smtpdtest1"), home_mode);
        let r = message::rcpt_reply(s.port, FROM, "smtpdtest1@local.test");
        assert_eq!(r.code, 550, "modes {file_mode:o}/{home_mode:o}: {r:?}");
        assert!(r.text().starts_with("5.7.1 "), "{r:?}");
    }
    assert!(
        s.log
            .wait_for("group or world writable", std::time::Duration::from_secs(5)),
        "{}",
        s.log.text()
    );
    sysusers::set_mode(&s.path("home/smtpdtest1"), 0o755);
    sysusers::set_mode(&fwd, 0o644);
    let msg = message::message(FROM, "smtpdtest1@local.test", "fixed", b"now forwarded\n");
    message::send_one(s.port, FROM, &["smtpdtest1@local.test"], &msg);
    wait_delivered(&s, 1);
    let mails = pymail::maildir(&s.path("home/smtpdtest2/Maildir"));
    assert_eq!(mails.len(), 1);
    assert!(pymail::maildir(&s.path("home/smtpdtest1/Maildir")).is_empty());
}

/// An mbox spool as Debian lays it out (root:mail 2775): the mailbox is
/// created owned by the user, mode 0600, and the user is not in group
/// mail (only the server's worker holds that group while it writes).
#[test]
fn debian_mail_spool() {
    let Some((u1, _, _)) = sysusers::setup("debian_mail_spool") else {
        return;
    };
    let Some(mail_gid) = nix::unistd::Group::from_name("mail")
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw())
    else {
        eprintln!("debian_mail_spool: skipped: no group mail");
        return;
    };
    let user_groups = nix::unistd::getgrouplist(
        &std::ffi::CString::new(u1.name.clone()).unwrap(),
        nix::unistd::Gid::from_raw(u1.gid),
    )
    .unwrap();
    assert!(
        !user_groups.iter().any(|g| g.as_raw() == mail_gid),
        "smtpdtest1 must not be in group mail for this test to mean anything"
    );
    let conf = r#"listen on 127.0.0.1 port {PORT}
action "mb" mbox userbase <realusers>
match from any for domain "local.test" action "mb"
"#;
    let s = sysusers::start(conf, &[&u1], |dir| {
        let spool = dir.join("mail");
        std::fs::create_dir(&spool).unwrap();
        sysusers::chown(&spool, 0, mail_gid);
        sysusers::set_mode(&spool, 0o2775);
    });
    let body = message::tricky_body();
    for subject in ["one", "two"] {
        let msg = message::message(FROM, "smtpdtest1@local.test", subject, &body);
        message::send_one(s.port, FROM, &["smtpdtest1@local.test"], &msg);
    }
    wait_delivered(&s, 2);
    let mbox = s.path("mail/smtpdtest1");
    assert_eq!(owner(&mbox).0, u1.uid);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&mbox).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let mails = pymail::mbox(&mbox);
    assert_eq!(mails.len(), 2);
    for m in &mails {
        assert_eq!(m.body(), &message::mbox_quoted(&body)[..]);
        m.assert_delivery_headers(FROM, "smtpdtest1@local.test");
    }
    assert!(!s.path("mail/smtpdtest1.lock").exists(), "lock left behind");
}
