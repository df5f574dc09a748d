//! The getpwnam backend against the system's own user database.

use smtpd_table::{open, Registry, Service, ServiceSet, TableError, TableKind, TableSpec, Value};

/// root's entry as /etc/passwd writes it, read without the code under test.
fn root_from_passwd() -> (u32, u32, String) {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    let line = passwd
        .lines()
        .find(|l| l.starts_with("root:"))
        .expect("root in /etc/passwd");
    let f: Vec<&str> = line.split(':').collect();
    (
        f[2].parse().unwrap(),
        f[3].parse().unwrap(),
        f[5].to_string(),
    )
}

#[test]
fn root_is_found() {
    let table = open(&TableSpec::getpwnam("getpwnam")).unwrap();
    assert_eq!(table.kind(), TableKind::Dynamic);
    assert_eq!(table.services(), ServiceSet::of(&[Service::Userinfo]));
    let (uid, gid, home) = root_from_passwd();
    for key in ["root", "ROOT"] {
        let Some(Value::Userinfo(u)) = table.lookup(Service::Userinfo, key).unwrap() else {
            panic!("root not found as {key}");
        };
        assert_eq!(u.username, "root");
        assert_eq!((u.uid, u.gid), (uid, gid));
        assert_eq!(u.home.to_str(), Some(home.as_str()));
    }
    assert!(table.check(Service::Userinfo, "root").unwrap());
}

#[test]
fn unknown_users_and_other_services() {
    let table = open(&TableSpec::getpwnam("getpwnam")).unwrap();
    assert_eq!(
        table
            .lookup(Service::Userinfo, "no-such-user-smtpd-test")
            .unwrap(),
        None
    );
    assert!(!table.check(Service::Userinfo, "").unwrap());
    assert!(matches!(
        table.lookup(Service::Credentials, "root"),
        Err(TableError::UnsupportedService { .. })
    ));
    assert!(matches!(
        table.fetch(Service::Userinfo),
        Err(TableError::UnsupportedOperation { .. })
    ));
    assert!(table.update().is_ok());
    assert!(table.validate(Service::Userinfo).is_ok());
    assert!(table.validate(Service::Alias).is_err());
    assert_eq!(
        Registry::builtin().services_of("getpwnam"),
        Some(table.services())
    );
}
