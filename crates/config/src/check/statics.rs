//! Checks OpenSMTPD makes while it parses, as pure functions the parser
//! calls: whether a table can serve a use, names, addresses.

use std::net::IpAddr;

use crate::model::{
    is_builtin_table, ListenOn, Service, Shape, TableDef, TableOrigin, TableSource, UseSite,
};

/// Can `table` (or the builtin of that name when `table` is `None`) be used
/// at `site`? OpenSMTPD's `table_check_use`: an inline list cannot serve a
/// mapping lookup and the other way round, and `getpwnam` serves only
/// userinfo. File and external tables are only known when opened.
pub(crate) fn table_fit(
    name: &str,
    table: Option<&TableDef>,
    site: UseSite,
    regex: bool,
) -> Result<(), String> {
    let shape = if regex { Shape::List } else { site.shape() };
    let service = site.service(regex);
    let (is_list, is_map, only_userinfo) = match table.map(|t| &t.source) {
        Some(TableSource::List(_)) => (true, false, false),
        Some(TableSource::Map(_)) => (false, true, false),
        Some(TableSource::Getpwnam) => (false, false, true),
        Some(_) => (false, false, false),
        None if name == "getpwnam" => (false, false, true),
        None if is_builtin_table(name) => (true, false, false),
        None => (false, false, false),
    };
    let bad = (shape == Shape::Hash && is_list)
        || (shape == Shape::List && is_map)
        || (only_userinfo && service != Service::Userinfo);
    if bad {
        return Err(format!(
            "table {} may not be used for {} lookups",
            display_table(name, table),
            site.describe()
        ));
    }
    Ok(())
}

/// How a table is named in messages: by name, or by content when inline.
pub(crate) fn display_table(name: &str, table: Option<&TableDef>) -> String {
    match table {
        Some(TableDef {
            origin: TableOrigin::Literal,
            source: TableSource::List(v),
            ..
        }) => format!("\"{}\"", v.first().map(String::as_str).unwrap_or("")),
        Some(TableDef {
            origin: TableOrigin::Inline,
            ..
        }) => "{ … }".to_string(),
        _ => format!("\"{name}\""),
    }
}

/// OpenBSD's `res_hnok`: dot-separated labels of letters, digits, `-` and
/// `_`, each starting and ending with a letter or digit.
pub(crate) fn is_hostname(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            match (b.first(), b.last()) {
                (Some(f), Some(l)) => {
                    f.is_ascii_alphanumeric()
                        && l.is_ascii_alphanumeric()
                        && b.iter()
                            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
                }
                _ => false,
            }
        })
}

/// What `listen on WORD` names, or why it cannot name anything.
pub(crate) fn listen_target(word: &str) -> Result<ListenOn, String> {
    match word {
        "localhost" => return Ok(ListenOn::Localhost),
        "all" | "any" => return Ok(ListenOn::All),
        _ => {}
    }
    if let Ok(ip) = word.parse::<IpAddr>() {
        return Ok(ListenOn::Addr(ip));
    }
    if word.contains('/') {
        return Err(format!(
            "listen on {word}: a network (CIDR) is not an address or interface; \
             listen on an address, an interface or a host name"
        ));
    }
    if looks_numeric(word) {
        return Err(format!("listen on {word}: invalid address"));
    }
    Ok(ListenOn::Name(word.to_string()))
}

/// Digits and dots only (an attempted IPv4 address), or hex/colons with
/// at least two colons (an attempted IPv6 address).
fn looks_numeric(s: &str) -> bool {
    let v4 = s.bytes().all(|b| b.is_ascii_digit() || b == b'.') && s.contains('.');
    let v6 = s.matches(':').count() >= 2
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    v4 || v6
}

/// Well-known service names `port` accepts (OpenSMTPD asks
/// getservbyname; a syntax check must not depend on /etc/services).
pub(crate) fn port_by_name(name: &str) -> Option<u16> {
    Some(match name {
        "smtp" => 25,
        "lmtp" => 24,
        "submission" => 587,
        "smtps" | "ssmtp" | "submissions" | "urd" => 465,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames() {
        for ok in [
            "mail.example.com",
            "mail",
            "buetow_org_tls",
            "a-b.c",
            "x1.",
            "DOMAIN.INVALID",
        ] {
            assert!(is_hostname(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a..b", "a b", "<x>", "_a", "."] {
            assert!(!is_hostname(bad), "{bad}");
        }
    }

    #[test]
    fn listen_targets() {
        assert_eq!(listen_target("localhost"), Ok(ListenOn::Localhost));
        assert_eq!(listen_target("any"), Ok(ListenOn::All));
        assert!(matches!(listen_target("::"), Ok(ListenOn::Addr(_))));
        assert!(matches!(
            listen_target("2001:6a8:2880:a077::91"),
            Ok(ListenOn::Addr(_))
        ));
        assert_eq!(listen_target("eth0"), Ok(ListenOn::Name("eth0".into())));
        assert_eq!(
            listen_target("178.xx.xx.xx"),
            Ok(ListenOn::Name("178.xx.xx.xx".into()))
        );
        assert!(listen_target("0.0.0.0/0").is_err());
        assert!(listen_target("192.168.1.300").is_err());
        assert!(listen_target("fe80::zz").is_ok());
    }
}
