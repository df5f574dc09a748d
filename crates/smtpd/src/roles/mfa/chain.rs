//! From a listener's `filter NAME` to the ordered list of filters its
//! sessions go through, and the filter processes a configuration needs.

use smtpd_config::{
    Config, FilterCondition, FilterDecision, FilterKind, FilterPhase, Method, RunAs,
};

/// One filter of a chain.
#[derive(Clone, Debug)]
pub enum Leaf {
    Builtin {
        name: String,
        phase: FilterPhase,
        conditions: Vec<FilterCondition>,
        decision: FilterDecision,
    },
    /// A filter process, by the name it is started under.
    Proc(String),
}

/// The filters of `name` in order (chains flattened; a chain naming
/// itself, which the config check refuses, stops rather than loops).
pub fn leaves(config: &Config, name: &str) -> Vec<Leaf> {
    let mut out = Vec::new();
    walk(config, name, &mut out, 0);
    out
}

fn walk(config: &Config, name: &str, out: &mut Vec<Leaf>, depth: usize) {
    let Some(f) = config.filter(name) else {
        return;
    };
    if depth > 16 {
        return;
    }
    match &f.kind {
        FilterKind::Builtin {
            phase,
            conditions,
            decision,
        } => out.push(Leaf::Builtin {
            name: f.name.clone(),
            phase: *phase,
            conditions: conditions.clone(),
            decision: decision.clone(),
        }),
        FilterKind::Proc { proc } => out.push(Leaf::Proc(proc.clone())),
        FilterKind::ProcExec { .. } => out.push(Leaf::Proc(f.name.clone())),
        FilterKind::Chain { filters } => {
            for n in filters {
                walk(config, n, out, depth + 1);
            }
        }
    }
}

/// A filter process to start: its name (the `proc`'s, or the
/// `proc-exec` filter's), command line and account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcSpec {
    pub name: String,
    pub command: String,
    pub run: RunAs,
}

/// The filter processes the listeners (smtp-in) and relay actions
/// (smtp-out) use, each once, in config order.
pub fn procs(config: &Config) -> Vec<ProcSpec> {
    let mut used: Vec<String> = Vec::new();
    let relays = config.actions.iter().filter_map(|a| match &a.method {
        Method::Relay(r) => r.filter.as_ref(),
        Method::Local(_) => None,
    });
    for f in config
        .listeners
        .iter()
        .filter_map(|l| l.filter.as_ref())
        .chain(relays)
    {
        {
            for leaf in leaves(config, f) {
                if let Leaf::Proc(p) = leaf {
                    if !used.contains(&p) {
                        used.push(p);
                    }
                }
            }
        }
    }
    used.into_iter()
        .filter_map(|name| {
            if let Some(p) = config.procs.iter().find(|p| p.name == name) {
                return Some(ProcSpec {
                    name,
                    command: p.command.clone(),
                    run: p.run.clone(),
                });
            }
            match &config.filter(&name)?.kind {
                FilterKind::ProcExec { command, run } => Some(ProcSpec {
                    name,
                    command: command.clone(),
                    run: run.clone(),
                }),
                _ => None,
            }
        })
        .collect()
}
