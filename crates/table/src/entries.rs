//! The in-memory contents of a table and the indexes that make each
//! service's matching rule fast.
//!
//! OpenSMTPD scans every entry and re-parses it on each pattern lookup. Here
//! the entries are kept in file order, exact keys in a hash map, and each
//! pattern service gets an index built the first time it is asked for
//! (a table is usually used for one service only): domains split into exact
//! names and wildcards, networks grouped by prefix length and hashed on the
//! masked address, address patterns split by shape, regexes compiled into
//! one `RegexSet`. When several entries match, the first in file order wins.

use crate::hostmatch::hostname_match;
use crate::mailpattern::{strip_tag, MailPattern};
use crate::netaddr::{masked, parse_ip, Netaddr};
use crate::service::Service;
use crate::table::TableKind;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::OnceLock;

/// A regex that does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegexFailure {
    pub pattern: String,
    pub reason: String,
}

/// Table contents: normalised keys, optional values, and lazy indexes.
#[derive(Debug)]
pub(crate) struct Entries {
    kind: TableKind,
    delim: char,
    keys: Vec<String>,
    values: Vec<Option<String>>,
    exact: HashMap<String, usize>,
    domain: OnceLock<DomainIndex>,
    net: OnceLock<NetIndex>,
    mail: OnceLock<MailIndex>,
    regex: OnceLock<Result<regex::RegexSet, RegexFailure>>,
    addr: OnceLock<HashMap<IpAddr, usize>>,
}

impl Entries {
    /// Build from normalised `(key, value)` pairs in file order. A repeated
    /// key keeps its first position and takes the later value, as
    /// OpenSMTPD's `dict_set` replaces it.
    pub fn new(
        kind: TableKind,
        delim: char,
        pairs: impl IntoIterator<Item = (String, Option<String>)>,
    ) -> Entries {
        let mut keys = Vec::new();
        let mut values = Vec::new();
        let mut exact = HashMap::new();
        for (key, value) in pairs {
            match exact.get(&key) {
                Some(&i) => values[i] = value,
                None => {
                    exact.insert(key.clone(), keys.len());
                    keys.push(key);
                    values.push(value);
                }
            }
        }
        Entries {
            kind,
            delim,
            keys,
            values,
            exact,
            domain: OnceLock::new(),
            net: OnceLock::new(),
            mail: OnceLock::new(),
            regex: OnceLock::new(),
            addr: OnceLock::new(),
        }
    }

    pub fn kind(&self) -> TableKind {
        self.kind
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn key(&self, i: usize) -> &str {
        &self.keys[i]
    }

    pub fn value(&self, i: usize) -> Option<&str> {
        self.values[i].as_deref()
    }

    /// Index of the first entry matching the normalised `key` for `service`.
    pub fn find(&self, service: Service, key: &str) -> Result<Option<usize>, RegexFailure> {
        Ok(match service {
            Service::Domain => self.domain_index().find(key, &self.keys),
            Service::Netaddr => self.net_index().find(key, self.exact.get(key).copied()),
            Service::Mailaddr => self.mail_index().find(key, self.delim),
            Service::Regex => {
                let set = self.regex_set()?;
                set.matches(key).iter().next()
            }
            Service::Addrname => self.exact.get(key).copied().or_else(|| {
                let ip = parse_ip(key).ok()?;
                self.addr_index().get(&ip).copied()
            }),
            _ => self.exact.get(key).copied(),
        })
    }

    /// The compiled regex set, or the first pattern that does not compile.
    pub fn regex_set(&self) -> Result<&regex::RegexSet, RegexFailure> {
        self.regex
            .get_or_init(|| build_regex_set(&self.keys))
            .as_ref()
            .map_err(Clone::clone)
    }

    fn domain_index(&self) -> &DomainIndex {
        self.domain.get_or_init(|| DomainIndex::build(&self.keys))
    }

    fn net_index(&self) -> &NetIndex {
        self.net.get_or_init(|| NetIndex::build(&self.keys))
    }

    fn mail_index(&self) -> &MailIndex {
        self.mail.get_or_init(|| MailIndex::build(&self.keys))
    }

    fn addr_index(&self) -> &HashMap<IpAddr, usize> {
        self.addr.get_or_init(|| {
            let mut map = HashMap::new();
            for (i, key) in self.keys.iter().enumerate() {
                if let Ok(ip) = parse_ip(key) {
                    map.entry(ip).or_insert(i);
                }
            }
            map
        })
    }
}

fn min_some(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Patterns are the stored keys, lower-cased as OpenSMTPD stores them (so an
/// upper-case escape such as `\S` reads as `\s`, exactly as there). `(?i)`
/// is understood natively by the `regex` crate.
fn build_regex_set(keys: &[String]) -> Result<regex::RegexSet, RegexFailure> {
    regex::RegexSet::new(keys).map_err(|_| {
        // Name the culprit: compile one by one to find it.
        keys.iter()
            .find_map(|k| {
                regex::Regex::new(k).err().map(|e| RegexFailure {
                    pattern: k.clone(),
                    reason: e.to_string(),
                })
            })
            .unwrap_or_else(|| RegexFailure {
                pattern: String::from("(all patterns together)"),
                reason: String::from("the compiled set exceeds the size limit"),
            })
    })
}

/// Domain names: exact names hashed, wildcard patterns scanned in order.
#[derive(Debug)]
struct DomainIndex {
    exact: HashMap<String, usize>,
    wild: Vec<usize>,
}

impl DomainIndex {
    fn build(keys: &[String]) -> Self {
        let mut exact = HashMap::new();
        let mut wild = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            if key.contains('*') {
                wild.push(i);
            } else {
                exact.entry(key.clone()).or_insert(i);
            }
        }
        DomainIndex { exact, wild }
    }

    fn find(&self, host: &str, keys: &[String]) -> Option<usize> {
        let exact = self.exact.get(host).copied();
        let wild = self
            .wild
            .iter()
            .copied()
            .find(|&i| hostname_match(host, &keys[i]));
        min_some(exact, wild)
    }
}

/// Networks grouped by (family, prefix length), each group a hash of
/// masked addresses: a lookup costs one hash probe per distinct length.
#[derive(Debug, Default)]
struct NetIndex {
    groups: Vec<NetGroup>,
}

#[derive(Debug)]
struct NetGroup {
    v6: bool,
    bits: u8,
    nets: HashMap<u128, usize>,
}

impl NetIndex {
    fn build(keys: &[String]) -> Self {
        let mut index = NetIndex::default();
        for (i, key) in keys.iter().enumerate() {
            let Ok(net) = Netaddr::parse(key) else {
                continue; // a literal word such as `local`: matched exactly
            };
            let v6 = net.addr.is_ipv6();
            let pos = index
                .groups
                .iter()
                .position(|g| g.v6 == v6 && g.bits == net.bits);
            let group = match pos {
                Some(p) => &mut index.groups[p],
                None => {
                    index.groups.push(NetGroup {
                        v6,
                        bits: net.bits,
                        nets: HashMap::new(),
                    });
                    let last = index.groups.len() - 1;
                    &mut index.groups[last]
                }
            };
            group.nets.entry(net.masked_bits()).or_insert(i);
        }
        index
    }

    /// `literal` is the entry whose text equals the key (OpenSMTPD compares
    /// the strings first, which is how `local` matches in `<localhost>`).
    fn find(&self, key: &str, literal: Option<usize>) -> Option<usize> {
        let Ok(query) = Netaddr::parse(key) else {
            return literal;
        };
        let ip = query.addr;
        let v6 = ip.is_ipv6();
        let by_net = self
            .groups
            .iter()
            .filter(|g| g.v6 == v6)
            .filter_map(|g| g.nets.get(&masked(ip, g.bits)).copied())
            .min();
        min_some(literal, by_net)
    }
}

/// Address patterns by shape; only wildcard domains are scanned.
#[derive(Debug, Default)]
struct MailIndex {
    catch_all: Option<usize>,
    user_only: HashMap<String, usize>,
    domain_only: HashMap<String, usize>,
    full: HashMap<(String, String), usize>,
    wild: Vec<(usize, MailPattern)>,
}

impl MailIndex {
    fn build(keys: &[String]) -> Self {
        let mut index = MailIndex::default();
        for (i, key) in keys.iter().enumerate() {
            let p = MailPattern::parse(key);
            if p.is_catch_all() {
                index.catch_all.get_or_insert(i);
            } else if p.domain.contains('*') {
                index.wild.push((i, p));
            } else if p.domain.is_empty() {
                index.user_only.entry(p.user).or_insert(i);
            } else if p.user.is_empty() {
                index.domain_only.entry(p.domain).or_insert(i);
            } else {
                index.full.entry((p.user, p.domain)).or_insert(i);
            }
        }
        index
    }

    /// A pattern user without the delimiter is compared with the tested
    /// user stripped of its tag, one with the delimiter with the whole user:
    /// probing both forms finds exactly the entries `mailaddr_match` would.
    fn find(&self, key: &str, delim: char) -> Option<usize> {
        let q = MailPattern::parse(key);
        let stripped = strip_tag(&q.user, delim);
        let users: &[&str] = if stripped == q.user {
            &[stripped]
        } else {
            &[q.user.as_str(), stripped]
        };
        let mut best = self.catch_all;
        best = min_some(best, self.domain_only.get(&q.domain).copied());
        for user in users {
            best = min_some(best, self.user_only.get(*user).copied());
            let full = (user.to_string(), q.domain.clone());
            best = min_some(best, self.full.get(&full).copied());
        }
        let wild = self
            .wild
            .iter()
            .find(|(_, p)| p.matches(&q.user, &q.domain, delim))
            .map(|(i, _)| *i);
        min_some(best, wild)
    }
}

#[cfg(test)]
mod tests;
