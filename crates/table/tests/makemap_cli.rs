//! The real `makemap` binary, run on temporary files; its output is read
//! back through the table API.

use smtpd_table::alias::lookup_alias;
use smtpd_table::{open, ExpandNode, Service, TableKind, TableSpec, Value};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn makemap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_makemap"))
        .args(args)
        .output()
        .expect("run makemap")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// The directory's file names, to see that no temporary file was left.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn aliases_db_with_default_name() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("aliases");
    std::fs::write(
        &src,
        "# system aliases\nroot: admin, /var/log/root.mail\nstaff: ann,\n  bob,\n  carol\nJoe+Lists: \"|/usr/bin/procmail -a lists\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = makemap(&["-t", "aliases", path_str(&src)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let db = dir.path().join("aliases.db");
    assert_eq!(
        std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
        0o640
    );
    assert_eq!(names(dir.path()), vec!["aliases", "aliases.db"]);

    let table = open(&TableSpec::db("aliases", &db)).unwrap();
    assert_eq!(table.kind(), TableKind::Mapping);
    let staff = table.lookup(Service::Alias, "staff").unwrap().unwrap();
    assert_eq!(
        staff,
        Value::Alias(vec![
            ExpandNode::Username("ann".into()),
            ExpandNode::Username("bob".into()),
            ExpandNode::Username("carol".into()),
        ])
    );
    let m = lookup_alias(table.as_ref(), "joe+lists", '+')
        .unwrap()
        .unwrap();
    assert_eq!(
        m.nodes,
        vec![ExpandNode::Filter("/usr/bin/procmail -a lists".into())]
    );
}

#[test]
fn owner_and_group_are_carried_over() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("aliases");
    std::fs::write(&src, "root: admin\n").unwrap();
    // As root, give the source another owner (nobody/nogroup, 65534);
    // otherwise it is ours, which the database must then be too.
    if nix::unistd::geteuid().is_root() {
        std::os::unix::fs::chown(&src, Some(65534), Some(65534)).unwrap();
    }
    let out = makemap(&["-t", "aliases", path_str(&src)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (s, d) = (
        std::fs::metadata(&src).unwrap(),
        std::fs::metadata(dir.path().join("aliases.db")).unwrap(),
    );
    assert_eq!((d.uid(), d.gid()), (s.uid(), s.gid()));
}

#[test]
fn set_with_output_and_dump() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("domains");
    std::fs::write(&src, "example.org\n*.Example.NET   # wildcard\n").unwrap();
    let db = dir.path().join("out.db");
    let out = makemap(&["-t", "set", "-o", path_str(&db), path_str(&src)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = open(&TableSpec::db("domains", &db)).unwrap();
    assert_eq!(table.kind(), TableKind::List);
    assert!(table.check(Service::Domain, "mx.example.net").unwrap());
    assert!(!table.check(Service::Domain, "example.net").unwrap());

    let dump = makemap(&["-U", path_str(&db)]);
    assert!(dump.status.success(), "{}", stderr(&dump));
    assert_eq!(
        String::from_utf8(dump.stdout).unwrap(),
        "example.org\n*.example.net\n"
    );
}

#[test]
fn plain_map_dump() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("creds");
    std::fs::write(&src, "Joe\t$2b$10$abc\nrelay  user:pass\n").unwrap();
    assert!(makemap(&[path_str(&src)]).status.success());
    let dump = makemap(&["-U", path_str(&dir.path().join("creds.db"))]);
    assert_eq!(
        String::from_utf8(dump.stdout).unwrap(),
        "joe\t$2b$10$abc\nrelay\tuser:pass\n"
    );
}

#[test]
fn standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stdin.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_makemap"))
        .args(["-o", path_str(&db), "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"k v\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let table = open(&TableSpec::db("s", &db)).unwrap();
    assert_eq!(
        table.lookup(Service::String, "k").unwrap(),
        Some(Value::String("v".into()))
    );

    let out = makemap(&["-"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("needs -o"));
}

#[test]
fn errors_name_file_and_line_and_leave_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("map");
    let src_s = path_str(&src).to_string();
    let db = dir.path().join("map.db");

    // A good database first: failed builds must leave it as it is.
    std::fs::write(&src, "a 1\n").unwrap();
    assert!(makemap(&[&src_s]).status.success());
    let before = std::fs::read(&db).unwrap();

    let cases: &[(&str, &[&str], &str)] = &[
        ("a 1\nb\n", &[], ":2: \"b\" has no value"),
        (
            "a 1\n\nA 2\n",
            &[],
            ":3: duplicate entry for \"a\" (first on line 1)",
        ),
        (
            "root: joe\nbad: error:600 x\n",
            &["-t", "aliases"],
            ":2: invalid alias entry for \"bad\"",
        ),
        ("a \"|x\n", &["-t", "aliases"], ":1: invalid alias entry"),
        ("[::1 x\n", &[], ":1: \"[\" without a closing \"]\""),
    ];
    for (text, flags, expected) in cases {
        std::fs::write(&src, text).unwrap();
        let mut args: Vec<&str> = flags.to_vec();
        args.push(&src_s);
        let out = makemap(&args);
        assert_eq!(out.status.code(), Some(1), "{text:?}");
        let err = stderr(&out);
        assert!(err.starts_with("makemap: "), "{err}");
        assert!(err.contains(&format!("{src_s}{expected}")), "{err}");
        assert_eq!(std::fs::read(&db).unwrap(), before);
        assert_eq!(names(dir.path()), vec!["map", "map.db"]);
    }

    std::fs::write(&src, b"a 1\n\xff x\n").unwrap();
    let out = makemap(&[&src_s]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(":2: line is not valid UTF-8"));
}

#[test]
fn usage_errors_exit_one() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let out = makemap(&[path_str(&missing)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("missing"));

    let out = makemap(&["-t", "btree", "x"]);
    assert_eq!(out.status.code(), Some(1));
    let out = makemap(&[]);
    assert_eq!(out.status.code(), Some(1));

    // -U on something that is not one of our databases.
    let src = dir.path().join("text");
    std::fs::write(&src, "a 1\n").unwrap();
    let out = makemap(&["-U", path_str(&src)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not a usable table database"));
}

#[test]
fn empty_map_warns_but_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("empty");
    std::fs::write(&src, "# nothing yet\n").unwrap();
    let out = makemap(&["-t", "set", path_str(&src)]);
    assert!(out.status.success());
    assert!(stderr(&out).contains("warning: empty map created"));
    let table = open(&TableSpec::db("e", dir.path().join("empty.db"))).unwrap();
    assert!(!table.check(Service::Domain, "x").unwrap());
}

#[test]
fn compat_dbtype_flag_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("m");
    std::fs::write(&src, "a 1\n").unwrap();
    assert!(makemap(&["-d", "hash", path_str(&src)]).status.success());
    assert_eq!(
        makemap(&["-d", "cdb", path_str(&src)]).status.code(),
        Some(1)
    );
}
