//! RFC 5321 path forms: what is accepted, what it becomes, what is refused
//! and why.

use smtpd_proto::{
    format_path, parse_forward_path, parse_mailbox, parse_reverse_path, PathError, Recipient,
};
use smtpd_types::MailAddr;

fn rev(s: &str) -> Result<Option<MailAddr>, PathError> {
    parse_reverse_path(s, false).map(|(a, rest)| {
        assert!(rest.is_empty(), "{s}: rest {rest:?}");
        a
    })
}

fn ok(s: &str) -> MailAddr {
    rev(s).unwrap_or_else(|e| panic!("{s}: {e}")).unwrap()
}

fn err(s: &str) -> PathError {
    rev(s).expect_err(s)
}

#[test]
fn ordinary_and_dot_atom_local_parts() {
    assert_eq!(
        ok("<user@example.org>"),
        MailAddr::new("user", "example.org")
    );
    assert_eq!(
        ok("<first.last+tag@sub.example.org>").user,
        "first.last+tag"
    );
    assert_eq!(
        ok("<!#$%&'*+-/=?^_`{|}~@x.org>").user,
        "!#$%&'*+-/=?^_`{|}~"
    );
    // %-hacks and bang paths are plain local-part characters.
    assert_eq!(
        ok("<a%b@relay.example>"),
        MailAddr::new("a%b", "relay.example")
    );
    assert_eq!(ok("<host!user@relay.example>").user, "host!user");
    assert_eq!(err("<.a@x.org>"), PathError::BadLocalPart);
    assert_eq!(err("<a.@x.org>"), PathError::BadLocalPart);
    assert_eq!(err("<a..b@x.org>"), PathError::BadLocalPart);
    assert_eq!(err("<a b@x.org>"), PathError::BadLocalPart);
    assert_eq!(err("<a(b)@x.org>"), PathError::BadLocalPart);
    assert_eq!(err("<@x.org>"), PathError::BadRoute);
    assert_eq!(err("<a@b@x.org>"), PathError::BadDomain);
}

#[test]
fn quoted_local_parts_are_kept_as_written() {
    assert_eq!(
        ok("<\"john doe\"@x.org>"),
        MailAddr::new("\"john doe\"", "x.org")
    );
    assert_eq!(ok("<\"a@b\"@x.org>"), MailAddr::new("\"a@b\"", "x.org"));
    assert_eq!(ok("<\"a\\\"b\\\\c\"@x.org>").user, "\"a\\\"b\\\\c\"");
    assert_eq!(ok("<\"a>b\"@x.org>").user, "\"a>b\"");
    assert_eq!(ok("<\"\"@x.org>").user, "\"\"");
    assert_eq!(err("<\"unterminated@x.org>"), PathError::BadLocalPart);
    assert_eq!(err("<\"a\"b@x.org>"), PathError::BadLocalPart);
    assert_eq!(err("<\"a\tb\"@x.org>"), PathError::BadLocalPart);
}

#[test]
fn null_and_postmaster() {
    assert_eq!(rev("<>"), Ok(None));
    assert_eq!(
        parse_forward_path("<>", false),
        Err(PathError::NullNotAllowed)
    );
    assert_eq!(
        parse_forward_path("<Postmaster>", false).unwrap().0,
        Recipient::Postmaster
    );
    assert_eq!(err("<Postmaster>"), PathError::NoDomain);
    assert_eq!(
        parse_forward_path("<user>", false),
        Err(PathError::NoDomain)
    );
}

#[test]
fn source_routes_are_checked_and_stripped() {
    assert_eq!(
        ok("<@a.example,@b.example:user@c.example>"),
        MailAddr::new("user", "c.example")
    );
    assert_eq!(
        ok("<@a.example:user@c.example>"),
        MailAddr::new("user", "c.example")
    );
    assert_eq!(err("<@a.example user@c.example>"), PathError::BadRoute);
    assert_eq!(err("<@a..example:user@c.example>"), PathError::BadRoute);
    assert_eq!(
        err("<@a.example,b.example:user@c.example>"),
        PathError::BadRoute
    );
    assert_eq!(err("<@:user@c.example>"), PathError::BadRoute);
}

#[test]
fn domains() {
    assert_eq!(ok("<a@x>").domain, "x");
    assert_eq!(ok("<a@X-1.Example.ORG>").domain, "X-1.Example.ORG");
    assert_eq!(ok("<a@123.example>").domain, "123.example");
    assert_eq!(err("<a@-x.org>"), PathError::BadDomain);
    assert_eq!(err("<a@x-.org>"), PathError::BadDomain);
    assert_eq!(err("<a@x..org>"), PathError::BadDomain);
    assert_eq!(err("<a@.x.org>"), PathError::BadDomain);
    assert_eq!(err("<a@x.org.>"), PathError::BadDomain);
    assert_eq!(err("<a@x_y.org>"), PathError::BadDomain);
    assert_eq!(err("<a@>"), PathError::BadDomain);
    assert_eq!(err("<a>"), PathError::NoDomain);
    let label63 = "a".repeat(63);
    assert_eq!(ok(&format!("<a@{label63}.org>")).domain.len(), 67);
    assert_eq!(err(&format!("<a@{label63}b.org>")), PathError::BadDomain);
    // 4 labels of 63 + 3 dots = 255: the longest domain; the path is then
    // longer than 256 with "<a@" and ">", so it is checked through
    // parse_mailbox's own bound and the path bound separately.
    let d255 = [label63.as_str(); 4].join(".");
    assert_eq!(d255.len(), 255);
    assert_eq!(err(&format!("<a@{d255}>")), PathError::PathTooLong);
    let d257 = format!("{d255}.a");
    assert_eq!(err(&format!("<a@{d257}>")), PathError::DomainTooLong);
}

#[test]
fn address_literals() {
    assert_eq!(ok("<a@[192.0.2.1]>").domain, "[192.0.2.1]");
    assert_eq!(ok("<a@[IPv6:2001:db8::1]>").domain, "[IPv6:2001:db8::1]");
    assert_eq!(ok("<a@[ipv6:::1]>").domain, "[ipv6:::1]");
    assert_eq!(
        ok("<a@[IPv6:::ffff:192.0.2.1]>").domain,
        "[IPv6:::ffff:192.0.2.1]"
    );
    for bad in [
        "<a@[192.0.2]>",
        "<a@[192.0.2.256]>",
        "<a@[010.0.0.1]>",
        "<a@[2001:db8::1]>",
        "<a@[IPv6:2001:db8::g]>",
        "<a@[IPv6:fe80::1%eth0]>",
        "<a@[x-tag:content]>",
        "<a@[192.0.2.1>",
        "<a@[]>",
    ] {
        assert_eq!(err(bad), PathError::BadAddressLiteral, "{bad}");
    }
}

#[test]
fn lengths() {
    let l64 = "a".repeat(64);
    assert_eq!(ok(&format!("<{l64}@x.org>")).user.len(), 64);
    assert_eq!(err(&format!("<{l64}a@x.org>")), PathError::LocalPartTooLong);
    let q = format!("\"{}\"", "a".repeat(63));
    assert_eq!(err(&format!("<{q}@x.org>")), PathError::LocalPartTooLong);
    // Exactly 256 octets with the brackets is the longest path.
    let dom = format!(
        "{}.{}.{}.{}",
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(63),
        "e".repeat(59)
    );
    let p256 = format!("<{l64}@{}>", &dom[..256 - 64 - 3]);
    assert_eq!(p256.len(), 256);
    assert!(rev(&p256).is_ok(), "{p256}");
    let p257 = format!("<{l64}@{}>", &dom[..257 - 64 - 3]);
    assert_eq!(err(&p257), PathError::PathTooLong);
}

#[test]
fn utf8_paths() {
    assert_eq!(
        parse_reverse_path("<δοκιμή@παράδειγμα.δοκιμή>", false),
        Err(PathError::Utf8NotAllowed)
    );
    let (a, _) = parse_reverse_path("<δοκιμή@παράδειγμα.δοκιμή>", true).unwrap();
    assert_eq!(a.unwrap().domain, "παράδειγμα.δοκιμή");
    assert_eq!(
        parse_forward_path("<\"ü x\"@x.org>", false),
        Err(PathError::Utf8NotAllowed)
    );
    assert!(parse_forward_path("<\"ü x\"@x.org>", true).is_ok());
    assert_eq!(
        parse_reverse_path("<a@[IPv6:ü]>", true),
        Err(PathError::BadAddressLiteral)
    );
}

#[test]
fn rest_of_line_and_brackets() {
    let (a, rest) = parse_reverse_path("<a@x.org> SIZE=1", false).unwrap();
    assert_eq!(a, Some(MailAddr::new("a", "x.org")));
    assert_eq!(rest, " SIZE=1");
    assert_eq!(err("a@x.org"), PathError::NotBracketed);
    assert_eq!(err("<a@x.org"), PathError::NotBracketed);
    assert_eq!(err("<a@x.org>>"), PathError::TrailingGarbage);
    assert_eq!(err("<a@x.org >"), PathError::TrailingGarbage);
    assert_eq!(err("< a@x.org>"), PathError::BadLocalPart);
}

#[test]
fn bare_mailbox_and_formatting() {
    assert_eq!(
        parse_mailbox("a@x.org", false),
        Ok(MailAddr::new("a", "x.org"))
    );
    assert_eq!(
        parse_mailbox("a@x.org ", false),
        Err(PathError::TrailingGarbage)
    );
    assert_eq!(
        parse_mailbox("ü@x.org", false),
        Err(PathError::Utf8NotAllowed)
    );
    assert_eq!(format_path(&MailAddr::new("a", "x.org")), "<a@x.org>");
    assert_eq!(
        format_path(&MailAddr::new("\"a b\"", "x.org")),
        "<\"a b\"@x.org>"
    );
    // A local part from a table that needs quoting gets quoted.
    assert_eq!(
        format_path(&MailAddr::new("a b", "x.org")),
        "<\"a b\"@x.org>"
    );
    assert_eq!(
        format_path(&MailAddr::new("a\"b", "x.org")),
        "<\"a\\\"b\"@x.org>"
    );
    assert_eq!(format_path(&MailAddr::new("root", "")), "<root>");
    // What format_path writes parses back to the same address.
    for a in [
        MailAddr::new("a", "x.org"),
        MailAddr::new("\"q q\"", "[192.0.2.1]"),
    ] {
        assert_eq!(rev(&format_path(&a)), Ok(Some(a)));
    }
}
