//! Typed lookup results, one per service, parsed from the raw value text
//! as OpenSMTPD's `table_parse_lookup()` parses them.

use crate::alias::{parse_alias_list, AliasError, ExpandNode};
use crate::listsplit::SplitError;
use crate::mailpattern::{parse_mailaddr_list, MailPattern};
use crate::netaddr::{parse_ip, BadNetaddr, Netaddr};
use crate::service::Service;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::PathBuf;

/// A `credentials` entry. For a listener (`user  $2b$…`) the user is the key
/// and the password a crypt(3) hash; for a relay (`label  user:password`)
/// both come from the value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// A `userinfo` entry: `joe  1000:100:/home/virtual/joe`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Userinfo {
    pub username: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

/// An `addrname` entry: `127.0.0.1  localhost`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Addrname {
    pub addr: IpAddr,
    pub name: String,
}

/// The result of a lookup, typed by the service asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Value {
    Alias(Vec<ExpandNode>),
    Domain(String),
    Credentials(Credentials),
    Netaddr(Netaddr),
    Userinfo(Userinfo),
    Source(IpAddr),
    Mailaddr(MailPattern),
    Mailaddrmap(Vec<MailPattern>),
    Addrname(Addrname),
    Relayhost(String),
    /// `string` and `regex` lookups return the value text.
    String(String),
}

impl Value {
    /// The alias nodes, if this is an alias value.
    pub fn into_alias(self) -> Option<Vec<ExpandNode>> {
        match self {
            Value::Alias(nodes) => Some(nodes),
            _ => None,
        }
    }
}

/// Why a value cannot be read as the service asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error(transparent)]
    Alias(#[from] AliasError),
    #[error(transparent)]
    Address(#[from] BadNetaddr),
    #[error("address list: {0}")]
    List(#[from] SplitError),
    #[error("credentials must be `password` or `user:password` (at least 3 characters)")]
    CredentialsTooShort,
    #[error("credentials `user:password` with an empty user or password")]
    CredentialsEmptyPart,
    #[error("userinfo must be `uid:gid:home`: {0}")]
    Userinfo(&'static str),
    #[error("empty value")]
    Empty,
}

/// Parse the value stored under `key` for `service`.
pub fn parse_value(service: Service, key: &str, raw: &str) -> Result<Value, ValueError> {
    if raw.is_empty() {
        return Err(ValueError::Empty);
    }
    Ok(match service {
        Service::Alias => Value::Alias(parse_alias_list(raw)?),
        Service::Domain => Value::Domain(raw.to_string()),
        Service::Credentials => Value::Credentials(parse_credentials(key, raw)?),
        Service::Netaddr => Value::Netaddr(Netaddr::parse(raw)?),
        Service::Userinfo => Value::Userinfo(parse_userinfo(key, raw)?),
        Service::Source => Value::Source(parse_ip(raw)?),
        Service::Mailaddr => Value::Mailaddr(MailPattern::parse(raw)),
        Service::Mailaddrmap => Value::Mailaddrmap(parse_mailaddr_list(raw)?),
        Service::Addrname => Value::Addrname(Addrname {
            addr: parse_ip(key)?,
            name: raw.to_string(),
        }),
        Service::Relayhost => Value::Relayhost(raw.to_string()),
        Service::String | Service::Regex => Value::String(raw.to_string()),
    })
}

/// Parse an entry returned by `fetch` (the entry's key) for `service`.
pub fn parse_fetched(service: Service, entry: &str) -> Result<Value, ValueError> {
    match service {
        Service::Source => Ok(Value::Source(parse_ip(entry)?)),
        _ => parse_value(service, "", entry),
    }
}

/// `text_to_credentials` as `table_parse_lookup` applies it.
fn parse_credentials(key: &str, raw: &str) -> Result<Credentials, ValueError> {
    if raw.len() < 3 {
        return Err(ValueError::CredentialsTooShort);
    }
    match raw.split_once(':') {
        None => Ok(Credentials {
            username: key.to_string(),
            password: raw.to_string(),
        }),
        Some((user, pass)) if user.is_empty() || pass.is_empty() => {
            Err(ValueError::CredentialsEmptyPart)
        }
        Some((user, pass)) => Ok(Credentials {
            username: user.to_string(),
            password: pass.to_string(),
        }),
    }
}

/// `text_to_userinfo` on `key:value`: decimal uid and gid, then the home
/// directory (which may itself contain colons).
fn parse_userinfo(key: &str, raw: &str) -> Result<Userinfo, ValueError> {
    let mut parts = raw.splitn(3, ':');
    let uid = parse_id(parts.next(), "bad uid")?;
    let gid = parse_id(parts.next(), "bad gid")?;
    let home = parts.next().ok_or(ValueError::Userinfo("missing home"))?;
    if home.is_empty() {
        return Err(ValueError::Userinfo("empty home"));
    }
    Ok(Userinfo {
        username: key.to_string(),
        uid,
        gid,
        home: PathBuf::from(home),
    })
}

fn parse_id(part: Option<&str>, what: &'static str) -> Result<u32, ValueError> {
    let part = part.ok_or(ValueError::Userinfo(what))?;
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValueError::Userinfo(what));
    }
    part.parse().map_err(|_| ValueError::Userinfo(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials() {
        assert_eq!(
            parse_value(Service::Credentials, "joe", "$2b$10$xyz").unwrap(),
            Value::Credentials(Credentials {
                username: "joe".into(),
                password: "$2b$10$xyz".into()
            })
        );
        assert_eq!(
            parse_value(Service::Credentials, "label", "user:pa:ss").unwrap(),
            Value::Credentials(Credentials {
                username: "user".into(),
                password: "pa:ss".into()
            })
        );
        assert_eq!(
            parse_value(Service::Credentials, "k", "ab"),
            Err(ValueError::CredentialsTooShort)
        );
        assert_eq!(
            parse_value(Service::Credentials, "k", ":pass"),
            Err(ValueError::CredentialsEmptyPart)
        );
        assert_eq!(
            parse_value(Service::Credentials, "k", "user:"),
            Err(ValueError::CredentialsEmptyPart)
        );
    }

    #[test]
    fn userinfo() {
        assert_eq!(
            parse_value(Service::Userinfo, "joe", "1000:100:/home/v/joe").unwrap(),
            Value::Userinfo(Userinfo {
                username: "joe".into(),
                uid: 1000,
                gid: 100,
                home: "/home/v/joe".into()
            })
        );
        for bad in [
            "1000:100",
            "x:100:/h",
            "1000::/h",
            "1000:100:",
            "99999999999:1:/h",
            "-1:1:/h",
        ] {
            assert!(
                matches!(
                    parse_value(Service::Userinfo, "joe", bad),
                    Err(ValueError::Userinfo(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn addresses() {
        assert_eq!(
            parse_value(Service::Source, "k", "[2001:db8::1]").unwrap(),
            Value::Source("2001:db8::1".parse().unwrap())
        );
        assert!(parse_value(Service::Source, "k", "mx.example.org").is_err());
        assert_eq!(
            parse_value(Service::Addrname, "::1", "localhost").unwrap(),
            Value::Addrname(Addrname {
                addr: "::1".parse().unwrap(),
                name: "localhost".into()
            })
        );
        assert!(parse_value(Service::Addrname, "host", "localhost").is_err());
        assert_eq!(
            parse_value(Service::Netaddr, "k", "10/8").unwrap(),
            Value::Netaddr(Netaddr::parse("10.0.0.0/8").unwrap())
        );
        assert_eq!(
            parse_fetched(Service::Source, "ipv6:::4").unwrap(),
            Value::Source("::4".parse().unwrap())
        );
    }

    #[test]
    fn others() {
        assert_eq!(
            parse_value(Service::Mailaddrmap, "joe", "joe@a.org, @b.org").unwrap(),
            Value::Mailaddrmap(vec![
                MailPattern::parse("joe@a.org"),
                MailPattern::parse("@b.org")
            ])
        );
        assert_eq!(
            parse_value(Service::Relayhost, "d", "smtp+tls://mx.example.org").unwrap(),
            Value::Relayhost("smtp+tls://mx.example.org".into())
        );
        assert_eq!(
            parse_value(Service::Domain, "k", ""),
            Err(ValueError::Empty)
        );
        assert!(matches!(
            parse_value(Service::Alias, "k", "\"|x"),
            Err(ValueError::Alias(_))
        ));
    }
}
