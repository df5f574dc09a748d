//! Expansion: turn one accepted recipient into its final envelopes (the
//! seed's §4.1; OpenSMTPD's lka_session.c).
//!
//! A work list of nodes starts with the recipient's address. An address
//! goes through the ruleset (an address that came out of an alias or a
//! `.forward` is matched as coming from `local`); a relay action makes a
//! relay envelope; a local action either looks the address up in its
//! `virtual` table, or turns it into a user name. A user name is looked up
//! in the action's `alias` table, then must exist in its userbase, then may
//! be redirected by the user's `~/.forward` (read by the parent as the
//! user). Files and commands become deliveries of their own; `:include:`
//! files are read in place and `error:` entries refuse the recipient. Nodes
//! already seen are skipped (loops end there) and depth is limited.

use smtpd_config::{Action, Config, Decision, LocalKind, Mapping, Method};
use smtpd_table::alias::{
    lookup_alias, lookup_virtual, parse_expand_node, read_include, ErrorReply, ExpandNode,
};
use smtpd_table::{Service, Value};
use smtpd_types::{EnhancedStatus, Envelope, EnvelopeFlags, EnvelopeKind, EvpId, MailAddr};
use std::collections::HashSet;

use super::ruleset::{self, Subject};
use super::tables::Tables;
use super::{ForwardError, Lka};
use crate::msg::to_smtp::Expansion;
use crate::msg::{SessionInfo, TxInfo, UserInfo};
use smtpd_types::DsnNotify;

/// How deep aliases, virtual entries and forwards may nest.
const MAX_DEPTH: usize = 10;
/// At most this many final deliveries for one recipient.
const MAX_NODES: usize = 1000;

/// One recipient to expand.
pub struct Request<'a> {
    pub session: &'a SessionInfo,
    pub tx: &'a TxInfo,
    pub rcpt: &'a MailAddr,
    pub notify: DsnNotify,
    pub orcpt: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Kind {
    /// An address; `internal` when it came out of an expansion.
    Address {
        addr: MailAddr,
        internal: bool,
    },
    /// A local user name, under the action that produced it.
    User {
        name: String,
        /// The alias lookup is skipped: `\user` in a forward, or an alias
        /// that names its own key.
        same_user: bool,
    },
    File(String),
    Command(String),
}

#[derive(Clone, Debug)]
struct Node {
    kind: Kind,
    depth: usize,
    /// The action in effect (set once an address matched a rule).
    action: Option<String>,
    /// The address this node descends from (the delivery's `dest`).
    dest: MailAddr,
    /// The user whose `.forward` produced this node; `None` for nodes from
    /// alias tables (their files and commands run as the server's user).
    forward_user: Option<String>,
}

enum Failure {
    Temp(String),
    /// A refusal with its own reply (5xx, or 4xx from an `error:` entry).
    Perm {
        code: u16,
        status: EnhancedStatus,
        text: String,
    },
}

impl Failure {
    fn invalid() -> Failure {
        Failure::Perm {
            code: 550,
            status: EnhancedStatus::new(5, 1, 1),
            text: "Invalid recipient".into(),
        }
    }
    fn temp(why: impl std::fmt::Display) -> Failure {
        tracing::warn!("expansion: {why}");
        Failure::Temp("Temporary failure".into())
    }
    /// An `error:CODE [X.Y.Z] text` entry: its reply, temporary or
    /// permanent by its code.
    fn from_alias(e: ErrorReply) -> Failure {
        let class = if e.is_temporary() { 4 } else { 5 };
        let text = if e.text.is_empty() {
            "Recipient refused".to_string()
        } else {
            e.text
        };
        Failure::Perm {
            code: e.code,
            status: e.status.unwrap_or(EnhancedStatus::new(class, 0, 0)),
            text,
        }
    }
}

/// Expand one recipient.
pub async fn expand(lka: &Lka, req: Request<'_>) -> Expansion {
    match run(lka, &req).await {
        Ok(envs) if envs.is_empty() => Expansion::Rejected {
            code: 550,
            status: EnhancedStatus::new(5, 1, 1),
            text: "Invalid recipient".into(),
        },
        Ok(envs) => Expansion::Accepted(envs),
        Err(Failure::Temp(text)) => Expansion::TempFail { text },
        Err(Failure::Perm { code, status, text }) => Expansion::Rejected { code, status, text },
    }
}

async fn run(lka: &Lka, req: &Request<'_>) -> Result<Vec<Envelope>, Failure> {
    let config = &lka.rt.config;
    let tables = &lka.tables;
    let delim = config.smtp.sub_addr_delim;
    let mut work = vec![Node {
        kind: Kind::Address {
            addr: req.rcpt.clone(),
            internal: false,
        },
        depth: 0,
        action: None,
        dest: req.rcpt.clone(),
        forward_user: None,
    }];
    let mut seen: HashSet<(Kind, Option<String>)> = HashSet::new();
    let mut out: Vec<Envelope> = Vec::new();
    while let Some(node) = work.pop() {
        if node.depth >= MAX_DEPTH {
            return Err(Failure::Perm {
                code: 550,
                status: EnhancedStatus::new(5, 4, 6),
                text: "Alias or forward expansion too deep".into(),
            });
        }
        if !seen.insert((node.kind.clone(), node.action.clone())) {
            continue; // already expanded: a loop or a duplicate
        }
        if seen.len() > MAX_NODES {
            return Err(Failure::Perm {
                code: 550,
                status: EnhancedStatus::new(5, 3, 4),
                text: "Expansion yields too many recipients".into(),
            });
        }
        let mut children: Vec<Node> = Vec::new();
        match &node.kind {
            Kind::Address { addr, internal } => {
                let subject = Subject {
                    session: req.session,
                    mail_from: req.tx.mail_from.as_ref(),
                    dest: addr,
                    internal: *internal,
                };
                let decision = ruleset::decide(config, tables, &subject).map_err(Failure::temp)?;
                let name = match decision {
                    Some(Decision::Action(name)) => name,
                    Some(Decision::Reject) | None => {
                        return Err(reject_for(addr, config, tables, req))
                    }
                };
                let action = config
                    .action(&name)
                    .ok_or_else(|| Failure::temp(format!("rule names unknown action {name}")))?;
                match &action.method {
                    Method::Relay(_) => {
                        out.push(envelope(
                            lka,
                            req,
                            action,
                            EnvelopeKind::Mta,
                            addr.clone(),
                            None,
                        ));
                    }
                    Method::Local(local) => match &local.mapping {
                        Some(Mapping::Virtual(t)) => {
                            let table = tables.get(t).map_err(Failure::temp)?;
                            let user = addr.user.to_ascii_lowercase();
                            let found = lookup_virtual(table.as_ref(), &user, &addr.domain, delim)
                                .map_err(Failure::temp)?
                                .ok_or_else(Failure::invalid)?;
                            children.extend(entries(&node, found.nodes, &name, addr, None)?);
                        }
                        _ => children.push(Node {
                            kind: Kind::User {
                                name: addr.user.to_ascii_lowercase(),
                                same_user: false,
                            },
                            depth: node.depth + 1,
                            action: Some(name.clone()),
                            dest: addr.clone(),
                            forward_user: None,
                        }),
                    },
                }
            }
            Kind::User { name, same_user } => {
                let action = node_action(config, &node)?;
                let local = match &action.method {
                    Method::Local(l) => l,
                    Method::Relay(_) => return Err(Failure::invalid()),
                };
                if !same_user {
                    if let Some(Mapping::Alias(t)) = &local.mapping {
                        let table = tables.get(t).map_err(Failure::temp)?;
                        if let Some(found) =
                            lookup_alias(table.as_ref(), name, delim).map_err(Failure::temp)?
                        {
                            children.extend(entries(
                                &node,
                                found.nodes,
                                &action.name,
                                &node.dest,
                                None,
                            )?);
                            work.extend(children.into_iter().rev());
                            continue;
                        }
                    }
                }
                let bare = name.split(delim).next().unwrap_or(name).to_string();
                let bare = if bare.is_empty() { name.clone() } else { bare };
                let user = userinfo(tables, local.userbase.as_deref(), &bare)
                    .map_err(Failure::temp)?
                    .ok_or_else(Failure::invalid)?;
                // With `user NAME`, only that user's .forward is read.
                let read_forward =
                    *same_user || local.user.as_deref().map(|u| u == bare).unwrap_or(true);
                let forwarded = if read_forward && !*same_user {
                    lka.open_forward(&user).await.map_err(|e| match e {
                        ForwardError::Refused(why) => {
                            tracing::warn!("expansion: ~{}/.forward {why}", user.username);
                            Failure::Perm {
                                code: 550,
                                status: EnhancedStatus::new(5, 7, 1),
                                text: "Delivery not authorized: unsafe .forward file".into(),
                            }
                        }
                        ForwardError::Temporary(why) => Failure::temp(why),
                    })?
                } else {
                    None
                };
                match forwarded {
                    Some(text) if !text.trim().is_empty() => {
                        let items = parse_forward(&text).map_err(|e| {
                            Failure::temp(format!("~{}/.forward: {e}", user.username))
                        })?;
                        children.extend(entries(
                            &node,
                            items,
                            &action.name,
                            &node.dest,
                            Some(&bare),
                        )?);
                    }
                    _ => match &local.kind {
                        LocalKind::ForwardOnly => {
                            return Err(Failure::Temp(
                                "No forwarding for this recipient on a forward-only action".into(),
                            ))
                        }
                        LocalKind::ExpandOnly => return Err(Failure::invalid()),
                        _ => {
                            let mut e = envelope(
                                lka,
                                req,
                                action,
                                EnvelopeKind::Mda,
                                node.dest.clone(),
                                Some(&user.username),
                            );
                            e.mda_subaddress = node
                                .dest
                                .tag(delim)
                                .map(str::to_string)
                                .filter(|t| !t.is_empty());
                            out.push(e);
                        }
                    },
                }
            }
            Kind::File(path) | Kind::Command(path) => {
                let action = node_action(config, &node)?;
                if let Method::Local(l) = &action.method {
                    if l.kind == LocalKind::ForwardOnly {
                        return Err(Failure::Temp(
                            "Files and commands are not allowed on a forward-only action".into(),
                        ));
                    }
                }
                // Entries of alias tables run as the server's user; those of
                // a .forward as its owner.
                let as_user = node
                    .forward_user
                    .clone()
                    .unwrap_or_else(|| lka.rt.user.name.clone());
                if lka.rt.privileged && as_user == "root" {
                    return Err(Failure::Perm {
                        code: 550,
                        status: EnhancedStatus::new(5, 7, 1),
                        text: "Files and commands are not run as root".into(),
                    });
                }
                let mut e = envelope(
                    lka,
                    req,
                    action,
                    EnvelopeKind::Mda,
                    node.dest.clone(),
                    Some(&as_user),
                );
                match &node.kind {
                    Kind::File(p) => e.mda_file = Some(p.clone()),
                    _ => e.mda_exec = Some(path.clone()),
                }
                out.push(e);
            }
        }
        // Depth-first, in the order the entries were written.
        work.extend(children.into_iter().rev());
    }
    // One envelope per distinct final delivery.
    let mut distinct = HashSet::new();
    out.retain(|e| {
        distinct.insert((
            e.dispatcher.clone(),
            e.kind,
            e.dest.to_string().to_ascii_lowercase(),
            e.mda_user.clone(),
            e.mda_exec.clone(),
            e.mda_file.clone(),
        ))
    });
    Ok(out)
}

/// The reply for an address no rule accepts: 5.7.1 when the address is not
/// ours (relaying denied), 5.1.1 when it is (unknown user).
fn reject_for(addr: &MailAddr, _config: &Config, tables: &Tables, _req: &Request<'_>) -> Failure {
    let ours = tables
        .check("localnames", Service::Domain, &addr.domain)
        .unwrap_or(false);
    if ours {
        Failure::invalid()
    } else {
        Failure::Perm {
            code: 550,
            status: EnhancedStatus::new(5, 7, 1),
            text: "Delivery not authorized, message refused".into(),
        }
    }
}

fn node_action<'c>(config: &'c Config, node: &Node) -> Result<&'c Action, Failure> {
    let name = node
        .action
        .as_deref()
        .ok_or_else(|| Failure::temp("expansion node without an action"))?;
    config
        .action(name)
        .ok_or_else(|| Failure::temp(format!("unknown action {name}")))
}

/// The child nodes of the entries an alias, virtual or `.forward` lookup
/// found, in order. `:include:` files are read in place, by this process
/// (as `_smtpd`) — for alias and virtual tables only: OpenSMTPD ignores
/// includes in a `.forward` (`expand_line(…, 0)` in forward.c), and
/// drops includes nested in an included file, so inclusion is one level
/// deep (`read_include` drops them). An `error:` entry fails the whole
/// recipient with its reply (OpenSMTPD's `EXPAND_ERROR`: 4xx temporary,
/// 5xx permanent, the text as written).
fn entries(
    parent: &Node,
    found: Vec<ExpandNode>,
    action: &str,
    dest: &MailAddr,
    forward_user: Option<&str>,
) -> Result<Vec<Node>, Failure> {
    let mut out = Vec::with_capacity(found.len());
    for entry in found {
        match entry {
            ExpandNode::Include(path) if forward_user.is_some() => {
                tracing::warn!(
                    "expansion: ~{}/.forward: :include:{} ignored (not allowed in a .forward)",
                    forward_user.unwrap_or_default(),
                    path.display()
                );
            }
            ExpandNode::Include(path) => {
                let included = read_include(&path).map_err(Failure::temp)?;
                for inner in included {
                    out.extend(child(parent, inner, action, dest, forward_user)?);
                }
            }
            other => out.extend(child(parent, other, action, dest, forward_user)?),
        }
    }
    Ok(out)
}

/// The node of one entry (`None` for an include, which the caller reads).
fn child(
    parent: &Node,
    entry: ExpandNode,
    action: &str,
    dest: &MailAddr,
    forward_user: Option<&str>,
) -> Result<Option<Node>, Failure> {
    let depth = parent.depth + 1;
    let mk = |kind: Kind| Node {
        kind,
        depth,
        action: Some(action.to_string()),
        dest: dest.clone(),
        forward_user: forward_user.map(str::to_string),
    };
    Ok(match entry {
        ExpandNode::Username(u) => {
            let u = u.to_ascii_lowercase();
            let same = matches!(&parent.kind, Kind::User { name, .. } if *name == u);
            Some(mk(Kind::User {
                name: u,
                same_user: same,
            }))
        }
        ExpandNode::Address(a) => Some(Node {
            kind: Kind::Address {
                addr: a.clone(),
                internal: true,
            },
            depth,
            action: None,
            dest: a,
            forward_user: None,
        }),
        ExpandNode::Filename(p) => Some(mk(Kind::File(p.to_string_lossy().into_owned()))),
        ExpandNode::Filter(cmd) => Some(mk(Kind::Command(cmd))),
        ExpandNode::Include(_) => None,
        ExpandNode::Error(e) => return Err(Failure::from_alias(e)),
    })
}

/// The entries of a `~/.forward`: one or more per line, comma separated;
/// `#` comments; `\user` means the user's own mailbox.
fn parse_forward(text: &str) -> Result<Vec<ExpandNode>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        for item in split_items(line) {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let item = item.strip_prefix('\\').unwrap_or(item);
            out.push(parse_expand_node(item).map_err(|e| e.to_string())?);
            if out.len() > 100 {
                return Err("more than 100 entries".into());
            }
        }
    }
    Ok(out)
}

/// Split on commas outside double quotes.
fn split_items(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&line[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&line[start..]);
    out
}

/// Look a user up in a userbase (`None` = the system users).
pub fn userinfo(
    tables: &Tables,
    userbase: Option<&str>,
    user: &str,
) -> Result<Option<UserInfo>, smtpd_table::TableError> {
    let table = tables.get(userbase.unwrap_or("getpwnam"))?;
    Ok(match table.lookup(Service::Userinfo, user)? {
        Some(Value::Userinfo(u)) => {
            let shell = nix::unistd::User::from_name(&u.username)
                .ok()
                .flatten()
                .map(|p| p.shell.to_string_lossy().into_owned())
                .unwrap_or_else(|| "/bin/sh".to_string());
            Some(UserInfo {
                username: u.username,
                uid: u.uid,
                gid: u.gid,
                home: u.home.to_string_lossy().into_owned(),
                shell,
            })
        }
        _ => None,
    })
}

/// A final envelope for this recipient.
fn envelope(
    lka: &Lka,
    req: &Request<'_>,
    action: &Action,
    kind: EnvelopeKind,
    dest: MailAddr,
    mda_user: Option<&str>,
) -> Envelope {
    let s = req.session;
    let mut e = Envelope::new(
        EvpId::random_in(req.tx.msgid),
        kind,
        req.tx.mail_from.clone(),
        req.rcpt.clone(),
    );
    e.dest = dest;
    e.dispatcher = action.name.clone();
    e.tag = s.tag.clone();
    e.smtpname = s.smtpname.clone();
    e.helo = s.helo.clone();
    e.hostname = s.rdns.clone().unwrap_or_else(|| match &s.client {
        crate::msg::ClientAddr::Inet(ip) => format!("[{ip}]"),
        crate::msg::ClientAddr::Local => "localhost".into(),
    });
    e.username = s.auth_user.clone();
    e.sockaddr = s.client.to_text();
    e.ttl = action.ttl.unwrap_or(lka.rt.config.queue.ttl).as_secs();
    e.flags = EnvelopeFlags {
        authenticated: s.auth_user.is_some(),
        bounce: req.tx.mail_from.is_none(),
        internal: false,
    };
    e.dsn_notify = req.notify;
    e.dsn_ret = req.tx.dsn_ret;
    e.dsn_envid = req.tx.dsn_envid.clone();
    e.dsn_orcpt = req.orcpt.clone();
    e.mda_user = mda_user.map(str::to_string);
    e
}
