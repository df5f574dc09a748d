//! Looking at the server's processes through /proc.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// Direct children of `pid`.
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if ppid(p) == Some(pid) {
            out.push(p);
        }
    }
    out
}

/// All descendants of `pid`.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        for c in children(p) {
            out.push(c);
            todo.push(c);
        }
    }
    out
}

pub fn any_alive(pids: &[u32]) -> bool {
    pids.iter().any(|p| alive(*p))
}

pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

pub fn ppid(pid: u32) -> Option<u32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = s.rsplit_once(')')?.1;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The command line of a process, arguments joined by spaces.
pub fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// The children of the parent by role, read from their titles
/// (`smtpd: queue …`).
pub fn children_by_role(parent: u32) -> HashMap<String, u32> {
    let mut out = HashMap::new();
    for c in children(parent) {
        let cl = cmdline(c);
        if let Some(rest) = cl.strip_prefix("smtpd: ") {
            if let Some(role) = rest.split_whitespace().next() {
                out.insert(role.to_string(), c);
            }
        }
    }
    out
}

/// Real, effective and saved uid/gid and supplementary groups of a process.
pub struct Creds {
    pub uids: Vec<u32>,
    pub gids: Vec<u32>,
    pub groups: Vec<u32>,
}

pub fn creds(pid: u32) -> Creds {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let nums = |key: &str| -> Vec<u32> {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .map(|l| {
                l[key.len()..]
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    Creds {
        uids: nums("Uid:"),
        gids: nums("Gid:"),
        groups: nums("Groups:"),
    }
}

/// The root directory of a process (its chroot).
pub fn root_dir(pid: u32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/root")).ok()
}

/// NoNewPrivs of a process.
pub fn no_new_privs(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("NoNewPrivs:") && l.ends_with('1'))
        })
        .unwrap_or(false)
}

/// Owner uid of a file.
pub fn owner(path: &std::path::Path) -> Option<u32> {
    std::fs::metadata(path).ok().map(|m| m.uid())
}
