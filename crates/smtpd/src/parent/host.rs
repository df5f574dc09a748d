//! Who we are on the network: the server name, the names `for local`
//! matches, and the addresses `from local` matches.

use std::net::IpAddr;

/// The server name: the first line of `/etc/mail/mailname`, else the
/// host's fully qualified name (as OpenSMTPD picks it).
pub fn server_name() -> String {
    if let Ok(text) = std::fs::read_to_string("/etc/mail/mailname") {
        if let Some(line) = text.lines().next() {
            let line = line.trim();
            if !line.is_empty() {
                return line.to_string();
            }
        }
    }
    let short = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".to_string());
    if short.contains('.') {
        return short;
    }
    fqdn_from_hosts(&short).unwrap_or(short)
}

/// The resolver's canonical name for `short` is the first name of the
/// `/etc/hosts` line that lists it (how `hostname -f` finds it on a host
/// without DNS for itself).
fn fqdn_from_hosts(short: &str) -> Option<String> {
    let hosts = std::fs::read_to_string("/etc/hosts").ok()?;
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let _addr = fields.next()?;
        let names: Vec<&str> = fields.collect();
        if names.iter().any(|n| n.eq_ignore_ascii_case(short)) {
            if let Some(fq) = names.iter().find(|n| n.contains('.')) {
                return Some(fq.to_string());
            }
        }
    }
    None
}

/// The addresses of this host's interfaces.
pub fn local_addrs() -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::new();
    if let Ok(ifs) = nix::ifaddrs::getifaddrs() {
        for i in ifs {
            let Some(addr) = i.address else { continue };
            let ip = if let Some(v4) = addr.as_sockaddr_in() {
                IpAddr::V4(v4.ip())
            } else if let Some(v6) = addr.as_sockaddr_in6() {
                IpAddr::V6(v6.ip())
            } else {
                continue;
            };
            if !out.contains(&ip) {
                out.push(ip);
            }
        }
    }
    for lo in ["127.0.0.1", "::1"] {
        if let Ok(ip) = lo.parse() {
            if !out.contains(&ip) {
                out.push(ip);
            }
        }
    }
    out
}

/// `<localnames>`: localhost, the server name (and its short form) and
/// every interface address as an address literal.
pub fn local_names(server: &str, addrs: &[IpAddr]) -> Vec<String> {
    let mut out = vec!["localhost".to_string(), server.to_ascii_lowercase()];
    if let Some((short, _)) = server.split_once('.') {
        out.push(short.to_ascii_lowercase());
    }
    for ip in addrs {
        out.push(match ip {
            IpAddr::V4(v4) => format!("[{v4}]"),
            IpAddr::V6(v6) => format!("[ipv6:{v6}]"),
        });
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localnames_hold_localhost_server_and_literals() {
        let addrs = vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
        let names = local_names("mx.example.org", &addrs);
        assert!(names.contains(&"localhost".to_string()));
        assert!(names.contains(&"mx.example.org".to_string()));
        assert!(names.contains(&"mx".to_string()));
        assert!(names.contains(&"[127.0.0.1]".to_string()));
        assert!(names.contains(&"[ipv6:::1]".to_string()));
    }

    #[test]
    fn loopback_is_always_local() {
        let a = local_addrs();
        assert!(a.contains(&"127.0.0.1".parse().unwrap()));
    }
}
