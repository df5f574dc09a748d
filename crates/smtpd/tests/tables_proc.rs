//! A table answered by an external program over the proc-table protocol
//! (smtpd-tables(7) 0.1), in a real server: the domains it accepts mail
//! for and the aliases it expands come from the program, and `smtpctl
//! update table` reaches it.

mod support;

use support::local::{users_table, wait_delivered, USERS};
use support::{pymail, Options, Server};

/// Domains `local.test`; aliases `team` → joe, ann (after an update:
/// bob). Any other key: not found.
const PROGRAM: &str = r#"#!/usr/bin/env python3
import sys
team = "joe, ann"
def out(s):
    sys.stdout.write(s + "\n"); sys.stdout.flush()
for line in sys.stdin:
    f = line.rstrip("\n").split("|")
    if f[0] == "config":
        if f[1] == "ready":
            out("register|domain"); out("register|alias"); out("register|ready")
        continue
    op = f[4]
    if op == "update":
        team = "bob"
        out("update-result|%s|ok" % f[5]); continue
    service, rid, key = f[5], f[6], "|".join(f[7:])
    found = {"domain": {"local.test": "local.test"}, "alias": {"team": team}}.get(service, {}).get(key)
    if found is None:
        out("%s-result|%s|not-found" % (op, rid))
    elif op == "check":
        out("check-result|%s|found" % rid)
    else:
        out("lookup-result|%s|found|%s" % (rid, found))
"#;

#[test]
fn domains_and_aliases_from_a_table_program() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("smtpd-test-")
        .tempdir()
        .unwrap();
    for u in USERS {
        std::fs::create_dir_all(dir.path().join("home").join(u)).unwrap();
    }
    let prog = dir.path().join("table.py");
    std::fs::write(&prog, PROGRAM).unwrap();
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = format!(
        "{}table ext proc:{{DIR}}/table.py\n\
         listen on 127.0.0.1 port {{PORT}}\n\
         action \"md\" maildir alias <ext> userbase <users>\n\
         match from any for domain <ext> action \"md\"\n",
        users_table()
    );
    let s = Server::start_in(dir, &config, Options::default());
    let mut c = s.smtp();
    c.hello();
    assert_eq!(c.cmd("MAIL FROM:<x@remote.test>").code, 250);
    // Not a domain of the table: no relaying.
    assert_eq!(c.cmd("RCPT TO:<team@other.test>").code, 550);
    assert_eq!(c.cmd("RSET").code, 250);
    let r = c.send_mail("x@remote.test", &["team@local.test"], "Subject: one\n\nhi");
    assert_eq!(r.code, 250, "{r:?}");
    wait_delivered(&s, 2);
    for u in ["joe", "ann"] {
        assert_eq!(
            pymail::maildir(&s.path(&format!("home/{u}/Maildir"))).len(),
            1,
            "{u}"
        );
    }
    assert_eq!(
        support::smtpctl::ok(&s, &["update", "table", "ext"]),
        "command succeeded\n"
    );
    let r = c.send_mail("x@remote.test", &["team@local.test"], "Subject: two\n\nhi");
    assert_eq!(r.code, 250, "{r:?}");
    wait_delivered(&s, 3);
    assert_eq!(pymail::maildir(&s.path("home/bob/Maildir")).len(), 1);
}
