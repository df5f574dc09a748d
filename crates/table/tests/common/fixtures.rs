//! The table contents the battery runs on, one or more per service.

use super::Contents;

pub const DOMAINS: Contents = Contents::List(&["example.org", "*.example.net", "Mixed.Case.ORG"]);
pub const DOMAIN_MAP: Contents =
    Contents::Map(&[("example.org", "primary"), ("*.example.com", "wild")]);
pub const NETADDRS: Contents = Contents::List(&[
    "192.168.1.0/24",
    "10.1.2.3",
    "[::1]",
    "2001:db8::/32",
    "ipv6:fe80::1",
    "local",
    "172.16/12",
]);
pub const NETADDR_MAP: Contents = Contents::Map(&[("office", "192.168.1.0/24")]);
pub const MAILADDRS: Contents = Contents::List(&[
    "joe",
    "@example.org",
    "jane@example.com",
    "ann@*.example.net",
    "tagged+x@example.com",
]);
pub const CATCH_ALL: Contents = Contents::List(&["@"]);
pub const ALIASES: Contents = Contents::Aliases(&[
    ("root", "admin, /var/log/root.mail"),
    ("joe", "joe@example.com"),
    ("joe+lists", "/home/joe/lists"),
    ("prog", "\"|/usr/bin/vacation joe\""),
    ("err", "error:550 5.1.1 no such user"),
    ("inc", ":include:/etc/mail/staff"),
    ("Upper", "lower"),
]);
pub const BAD_ALIAS: Contents = Contents::Map(&[("bad", "error:600 nope"), ("good", "joe")]);
pub const VIRTUAL: Contents = Contents::Aliases(&[
    ("joe@example.org", "joe-local"),
    ("joe+tag@example.org", "joe-tagged"),
    ("ann", "ann-any"),
    ("bob+x", "bob-x"),
    ("@example.org", "catchall-org"),
    ("@", "catchall-global"),
]);
pub const VIRTUAL_NO_GLOBAL: Contents = Contents::Aliases(&[("@example.org", "catchall-org")]);
pub const CREDENTIALS: Contents = Contents::Map(&[
    (
        "joe",
        "$2b$10$hIJ4QfMcp.90nJwKqGbKM.MybArjHOTpEtoTV.DgLYAiThuoYmTSe",
    ),
    ("relay1", "user:secret:with:colons"),
    ("short", "ab"),
]);
pub const USERINFO: Contents = Contents::Map(&[
    ("joe", "1000:100:/home/virtual/joe"),
    ("bad", "x:100:/home/bad"),
]);
pub const SOURCES: Contents = Contents::List(&["192.0.2.1", "192.0.2.2", "[2001:db8::1]"]);
pub const EMPTY: Contents = Contents::List(&[]);
pub const ADDRNAMES: Contents = Contents::Map(&[
    ("127.0.0.1", "localhost"),
    ("[::1]", "ip6-localhost"),
    ("192.0.2.10", "mx.example.org"),
]);
pub const RELAY_MAP: Contents = Contents::Map(&[
    ("example.org", "smtp+tls://label@mx.example.org:587"),
    ("example.net", "lmtp://[192.0.2.1]:24"),
]);
pub const RELAY_LIST: Contents = Contents::List(&["smtp://a.example.org", "smtp://b.example.org"]);
pub const STRINGS: Contents = Contents::List(&["tag1", "Important"]);
pub const REGEXES: Contents = Contents::List(&[
    "^admin@",
    "(?i)^[a-z]+\\.spam\\.",
    "[0-9]{3}$",
    "\\.(exe|zip)$",
]);
pub const BAD_REGEX: Contents = Contents::List(&["^ok$", "(unclosed"]);
pub const MAILADDRMAP: Contents =
    Contents::Map(&[("joe", "joe@example.org, joe.doe@example.org, @example.net")]);
