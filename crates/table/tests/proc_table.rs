//! Tables answered by a program over the proc-table protocol
//! (smtpd-tables(7) 0.1): a Python program speaks it over the socket pair
//! on its stdin/stdout, and the table answers check, lookup, fetch and
//! update through it; programs that misbehave give errors, never a hang or
//! a panic.

use smtpd_table::{Registry, Service, Table, TableSpec, Value};
use std::path::Path;

/// A table program: `domain` and `alias` and `source` from a dict; it
/// counts `update`s into the alias values; `KEY=boom` answers an error.
const PROGRAM: &str = r#"#!/usr/bin/env python3
import sys
updates = 0
data = {"domain": {"example.test": "example.test"},
        "alias": {"joe": "joe@example.test, ann"},
        "source": ["127.0.0.9"]}
def out(s):
    sys.stdout.write(s + "\n"); sys.stdout.flush()
for line in sys.stdin:
    f = line.rstrip("\n").split("|")
    if f[0] == "config":
        if f[1] == "ready":
            for s in data: out("register|" + s)
            out("register|ready")
        continue
    op = f[4]
    if op == "update":
        updates += 1
        data["alias"]["joe"] = "joe%d@example.test" % updates
        out("update-result|%s|ok" % f[5]); continue
    service, rid = f[5], f[6]
    if op == "fetch":
        out("fetch-result|%s|found|%s" % (rid, data[service][0])); continue
    key = "|".join(f[7:])
    if key == "boom":
        out("%s-result|%s|error|no database" % (op, rid)); continue
    v = data.get(service, {}).get(key)
    if v is None:
        out("%s-result|%s|not-found" % (op, rid))
    elif op == "check":
        out("check-result|%s|found" % rid)
    else:
        out("lookup-result|%s|found|%s" % (rid, v))
"#;

fn program(dir: &Path, name: &str, text: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.display().to_string()
}

fn open(location: &str) -> Result<Box<dyn Table>, smtpd_table::TableError> {
    Registry::builtin().open(&TableSpec::from_location("t", location))
}

#[test]
fn check_lookup_fetch_and_update_through_the_program() {
    let dir = tempfile::tempdir().unwrap();
    let prog = program(dir.path(), "table.py", PROGRAM);
    let t = open(&format!("proc:{prog}")).unwrap();
    assert_eq!(t.backend(), "proc");
    assert!(t.services().contains(Service::Domain));
    assert!(!t.services().contains(Service::Credentials));
    assert!(t.check(Service::Domain, "example.test").unwrap());
    assert!(!t.check(Service::Domain, "other.test").unwrap());
    let v = t.lookup(Service::Alias, "joe").unwrap().unwrap();
    assert!(
        matches!(v, Value::Alias(ref nodes) if nodes.len() == 2),
        "{v:?}"
    );
    assert_eq!(t.lookup(Service::Alias, "nobody").unwrap(), None);
    assert_eq!(
        t.fetch(Service::Source).unwrap(),
        Some(Value::Source("127.0.0.9".parse().unwrap()))
    );
    t.update().unwrap();
    let v = t.lookup(Service::Alias, "joe").unwrap().unwrap();
    assert!(format!("{v:?}").contains("joe1"), "{v:?}");
    // An error answer, and a service the program did not register.
    let e = t.check(Service::Domain, "boom").unwrap_err().to_string();
    assert!(e.contains("no database"), "{e}");
    assert!(t.lookup(Service::Credentials, "x").is_err());
}

#[test]
fn misbehaving_programs_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    // Registers, then dies at the first request.
    let dies = program(
        dir.path(),
        "dies.sh",
        "#!/bin/sh\nread a; read b; read c; read d\necho 'register|domain'\necho 'register|ready'\nread x\nexit 1\n",
    );
    let t = open(&format!("proc:{dies}")).unwrap();
    let e = t.check(Service::Domain, "x").unwrap_err().to_string();
    assert!(e.contains("closed"), "{e}");
    // Answers nonsense at registration.
    let garbage = program(dir.path(), "garbage.sh", "#!/bin/sh\necho hello\nsleep 5\n");
    let e = open(&format!("proc:{garbage}")).unwrap_err().to_string();
    assert!(e.contains("expected register|SERVICE"), "{e}");
    // Not there at all.
    let e = open("proc:/nonexistent/table-prog")
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/table-prog"), "{e}");
    // An unknown type with no table-TYPE program anywhere.
    let e = open("nosuchtype:/etc/x.conf").unwrap_err().to_string();
    assert!(e.contains("nosuchtype"), "{e}");
}
