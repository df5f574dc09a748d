use super::*;
use crate::listsplit::SplitError;
use smtpd_types::{EnhancedStatus, MailAddr};
use std::path::PathBuf;

fn node(s: &str) -> ExpandNode {
    parse_expand_node(s).unwrap()
}

#[test]
fn every_node_kind() {
    assert_eq!(node("joe"), ExpandNode::Username("joe".into()));
    assert_eq!(node("j.o-e_+x"), ExpandNode::Username("j.o-e_+x".into()));
    assert_eq!(
        node("joe@example.org"),
        ExpandNode::Address(MailAddr::new("joe", "example.org"))
    );
    assert_eq!(
        node("o'hara+tag@mx-1.example.org"),
        ExpandNode::Address(MailAddr::new("o'hara+tag", "mx-1.example.org"))
    );
    assert_eq!(
        node("/var/mail/archive"),
        ExpandNode::Filename(PathBuf::from("/var/mail/archive"))
    );
    assert_eq!(
        node("|/usr/bin/vacation joe"),
        ExpandNode::Filter("/usr/bin/vacation joe".into())
    );
    assert_eq!(
        node("\"|/usr/local/bin/list post, now\""),
        ExpandNode::Filter("/usr/local/bin/list post, now".into())
    );
    assert_eq!(
        node(":include:/etc/mail/staff"),
        ExpandNode::Include(PathBuf::from("/etc/mail/staff"))
    );
    assert_eq!(
        node("include:/etc/mail/staff"),
        ExpandNode::Include(PathBuf::from("/etc/mail/staff"))
    );
    assert_eq!(
        node(":INCLUDE: /etc/mail/staff"),
        ExpandNode::Include(PathBuf::from("/etc/mail/staff"))
    );
    assert_eq!(
        node("error:550 No such user"),
        ExpandNode::Error(ErrorReply {
            code: 550,
            status: None,
            text: "No such user".into()
        })
    );
    assert_eq!(
        node(":error:450 4.2.1 Mailbox busy"),
        ExpandNode::Error(ErrorReply {
            code: 450,
            status: Some(EnhancedStatus::new(4, 2, 1)),
            text: "Mailbox busy".into()
        })
    );
    assert_eq!(
        node("ERROR:553 5.1.1"),
        ExpandNode::Error(ErrorReply {
            code: 553,
            status: Some(EnhancedStatus::new(5, 1, 1)),
            text: "".into()
        })
    );
}

#[test]
fn node_display_round_trips() {
    for text in [
        "joe",
        "joe@example.org",
        "/var/mail/x",
        "\"|prog a, b\"",
        ":include:/etc/mail/x",
        "error:550 5.1.1 gone",
        "error:451 later",
    ] {
        let n = node(text);
        assert_eq!(n.to_string(), text);
        assert_eq!(node(&n.to_string()), n);
    }
    assert!(matches!(node("error:451 later"), ExpandNode::Error(e) if e.is_temporary()));
}

#[test]
fn every_error() {
    use AliasError::*;
    let err = |s: &str| parse_expand_node(s).unwrap_err();
    assert_eq!(err("error:600 x"), BadErrorCode("error:600 x".into()));
    assert_eq!(err("error:55 x"), BadErrorCode("error:55 x".into()));
    assert_eq!(err("error:5x0 x"), BadErrorCode("error:5x0 x".into()));
    assert_eq!(err("error:550x"), BadErrorCode("error:550x".into()));
    assert_eq!(err("error:550"), ErrorWithoutMessage("error:550".into()));
    assert_eq!(
        err("error:550   "),
        ErrorWithoutMessage("error:550   ".into())
    );
    assert_eq!(err("error:550 -x"), BadErrorMessage("error:550 -x".into()));
    assert_eq!(
        err("error:550 4.1.1 x"),
        StatusMismatch {
            item: "error:550 4.1.1 x".into(),
            code: 550,
            status: EnhancedStatus::new(4, 1, 1)
        }
    );
    assert_eq!(
        err(":include:etc/x"),
        IncludeNotAbsolute(":include:etc/x".into())
    );
    assert_eq!(err("|"), EmptyCommand("|".into()));
    assert_eq!(err("\"|  \""), EmptyCommand("\"|  \"".into()));
    assert_eq!(err("\"|prog"), UnterminatedCommand("\"|prog".into()));
    assert_eq!(err("joe doe"), Invalid("joe doe".into()));
    assert_eq!(err("@example.org"), Invalid("@example.org".into()));
    assert_eq!(err("joe@"), Invalid("joe@".into()));
    assert_eq!(err("joe@[192.0.2.1]"), Invalid("joe@[192.0.2.1]".into()));
    assert_eq!(err("a@b@c"), Invalid("a@b@c".into()));
    assert_eq!(err("\"joe\""), Invalid("\"joe\"".into()));
    assert_eq!(err("jöe"), Invalid("jöe".into()));
    // Messages say what is wrong with which item.
    assert!(err("error:600 x").to_string().contains("4xx or 5xx"));
    assert!(err("x y").to_string().contains("is not a user name"));
}

#[test]
fn lists() {
    assert_eq!(
        parse_alias_list("root, joe@example.org , /var/log/root.mail,\"|prog a, b\"").unwrap(),
        vec![
            ExpandNode::Username("root".into()),
            ExpandNode::Address(MailAddr::new("joe", "example.org")),
            ExpandNode::Filename("/var/log/root.mail".into()),
            ExpandNode::Filter("prog a, b".into()),
        ]
    );
    assert_eq!(parse_alias_list(" , ,"), Err(AliasError::Empty));
    assert_eq!(
        parse_alias_list("a, \"|x"),
        Err(AliasError::Split(SplitError::UnterminatedQuote('"')))
    );
    assert_eq!(
        parse_alias_list("a\\"),
        Err(AliasError::Split(SplitError::TrailingBackslash))
    );
    assert!(matches!(
        parse_alias_list("a, b c"),
        Err(AliasError::Invalid(i)) if i == "b c"
    ));
}

#[test]
fn alias_key_order() {
    assert_eq!(alias_keys("Joe", '+'), vec!["joe"]);
    assert_eq!(alias_keys("Joe+Lists", '+'), vec!["joe+lists", "joe"]);
    assert_eq!(alias_keys("joe-x-y", '-'), vec!["joe-x-y", "joe"]);
    assert_eq!(alias_keys("+x", '+'), vec!["+x"]);
}

#[test]
fn virtual_key_order() {
    assert_eq!(
        virtual_keys("Joe", "Example.ORG", '+'),
        vec!["joe@example.org", "joe", "@example.org", "@"]
    );
    assert_eq!(
        virtual_keys("joe+tag", "example.org", '+'),
        vec![
            "joe+tag@example.org",
            "joe@example.org",
            "joe+tag",
            "joe",
            "@example.org",
            "@"
        ]
    );
    assert_eq!(virtual_keys("joe", "", '+'), vec!["joe@", "joe"]);
    assert_eq!(
        virtual_keys("joe+", "x.org", '+'),
        vec!["joe@x.org", "joe", "@x.org", "@"]
    );
}

#[test]
fn include_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("staff");
    std::fs::write(
        &path,
        "# staff\nann, bob@example.org\n\n  carol  # lead\n:include:/etc/nested\n",
    )
    .unwrap();
    let nodes = read_include(&path).unwrap();
    assert_eq!(
        nodes,
        vec![
            ExpandNode::Username("ann".into()),
            ExpandNode::Address(MailAddr::new("bob", "example.org")),
            ExpandNode::Username("carol".into()),
        ]
    );
    let resolved = resolve_includes(vec![
        ExpandNode::Username("root".into()),
        ExpandNode::Include(path.clone()),
    ])
    .unwrap();
    assert_eq!(resolved.len(), 4);

    std::fs::write(&path, "ann\nbad item\n").unwrap();
    let err = read_include(&path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2: \"bad item\" is not a user name, user@domain, /file, |command, :include:/file or error:code message",
            path.display()
        )
    );
    assert!(matches!(
        read_include(&dir.path().join("missing")),
        Err(IncludeError::Io { .. })
    ));
}
