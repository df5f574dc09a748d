//! Reloading: `update()` for file tables, automatic and explicit reopening
//! of db tables, and keeping the old contents when the new ones are bad.

use smtpd_table::makemap::{self, MapType};
use smtpd_table::{open, Service, TableError, TableKind, TableSpec, Value};

fn alias(text: &str) -> Option<Value> {
    Some(Value::Alias(vec![smtpd_table::ExpandNode::Username(
        text.into(),
    )]))
}

#[test]
fn file_table_reloads_on_update_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aliases");
    std::fs::write(&path, "joe: old\n").unwrap();
    let table = open(&TableSpec::file("aliases", &path)).unwrap();
    assert_eq!(table.lookup(Service::Alias, "joe").unwrap(), alias("old"));

    std::fs::write(&path, "joe: new\nann: fresh\n").unwrap();
    assert_eq!(table.lookup(Service::Alias, "joe").unwrap(), alias("old"));
    table.update().unwrap();
    assert_eq!(table.lookup(Service::Alias, "joe").unwrap(), alias("new"));
    assert_eq!(table.lookup(Service::Alias, "ann").unwrap(), alias("fresh"));

    // A broken file is refused and the table keeps what it had.
    std::fs::write(&path, "joe: new\nbroken\n").unwrap();
    let err = table.update().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2: \"broken\" has no value (every line of a mapping needs `key value`)",
            path.display()
        )
    );
    assert_eq!(table.lookup(Service::Alias, "ann").unwrap(), alias("fresh"));

    // The shape may change with the contents.
    std::fs::write(&path, "example.org\n").unwrap();
    table.update().unwrap();
    assert_eq!(table.kind(), TableKind::List);
    assert!(table.check(Service::Domain, "example.org").unwrap());

    std::fs::remove_file(&path).unwrap();
    assert!(matches!(table.update(), Err(TableError::Io { .. })));
    assert!(table.check(Service::Domain, "example.org").unwrap());
}

#[test]
fn inline_update_is_a_no_op() {
    let table = open(&TableSpec::inline_list("l", vec!["a".into()])).unwrap();
    table.update().unwrap();
    assert!(table.check(Service::String, "a").unwrap());
}

#[test]
fn db_table_follows_a_rebuilt_file() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("aliases");
    std::fs::write(&src, "joe: old\n").unwrap();
    let db = makemap::build(&src, None, MapType::Aliases).unwrap().output;
    let table = open(&TableSpec::db("aliases", &db)).unwrap();
    assert_eq!(table.lookup(Service::Alias, "joe").unwrap(), alias("old"));
    assert!(table.check(Service::Domain, "joe").unwrap()); // builds the index

    // makemap renames a new file into place: the next lookup sees it,
    // index included.
    std::fs::write(&src, "joe: new\nann: fresh\n").unwrap();
    makemap::build(&src, None, MapType::Aliases).unwrap();
    assert_eq!(table.lookup(Service::Alias, "joe").unwrap(), alias("new"));
    assert!(table.check(Service::Domain, "ann").unwrap());

    // A damaged replacement is not used: the old database keeps serving.
    let junk = dir.path().join("junk");
    std::fs::write(&junk, vec![0xa5u8; 4096]).unwrap();
    std::fs::rename(&junk, &db).unwrap();
    assert_eq!(table.lookup(Service::Alias, "ann").unwrap(), alias("fresh"));
    assert_eq!(table.lookup(Service::Alias, "ann").unwrap(), alias("fresh"));
    assert!(matches!(table.update(), Err(TableError::BadDb { .. })));

    // Explicit update picks up a good file again.
    std::fs::write(&src, "joe: third\n").unwrap();
    makemap::build(&src, None, MapType::Aliases).unwrap();
    table.update().unwrap();
    assert_eq!(table.lookup(Service::Alias, "joe").unwrap(), alias("third"));
    assert_eq!(table.lookup(Service::Alias, "ann").unwrap(), None);

    // A removed file is an error, not "not found".
    std::fs::remove_file(&db).unwrap();
    assert!(matches!(
        table.lookup(Service::Alias, "joe"),
        Err(TableError::Io { .. })
    ));
}

#[test]
fn opening_bad_files_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    assert!(matches!(
        open(&TableSpec::file("m", &missing)),
        Err(TableError::Io { .. })
    ));
    assert!(matches!(
        open(&TableSpec::db("m", &missing)),
        Err(TableError::Io { .. })
    ));
    let text = dir.path().join("text");
    std::fs::write(&text, "a b\n").unwrap();
    let err = open(&TableSpec::db("m", &text)).unwrap_err();
    assert!(
        err.to_string().contains("not a usable table database"),
        "{err}"
    );
    let long = dir.path().join("long");
    std::fs::write(&long, format!("ok\n{}\n", "x".repeat(1024))).unwrap();
    let err = open(&TableSpec::file("m", &long)).unwrap_err();
    assert!(err.to_string().contains(":2: key too long"), "{err}");
}
