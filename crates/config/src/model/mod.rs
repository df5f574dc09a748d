//! The typed configuration both grammars lower into.
//!
//! Everything that refers to a table, action, filter, pki or ca does so by
//! name; [`Config`] holds the named items. Inline tables and literal strings
//! written where a table is accepted become anonymous [`TableDef`]s with
//! generated names (starting with `<`, which user names cannot), and inline
//! filter lists become anonymous chains the same way.

mod action;
mod filter;
mod listener;
mod relay_url;
mod rule;
mod settings;
mod span;
mod table;
mod walk;

pub use action::{
    Action, ActionOrigin, LocalDelivery, LocalKind, Mapping, MdaWrapper, Method, Relay, RelayTls,
};
pub use filter::{
    Filter, FilterCond, FilterCondition, FilterDecision, FilterKind, FilterPhase, Proc, RunAs,
};
pub use listener::{Ca, Dhe, Family, ListenOn, Listener, ListenerAuth, ListenerTls, Pki, Senders};
pub use relay_url::{RelayProto, RelayTlsMode, RelayUrl, RelayUrlError};
pub use rule::{Cond, Condition, Decision, Grammar, Rule};
pub use settings::{
    BounceSettings, DomainMtaLimits, MdaLimits, MdaSettings, MtaCounts, MtaLimits, MtaSettings,
    QueueEncryption, QueueKey, QueueSettings, SchedulerLimits, SmtpSettings, SrsSettings,
};
pub use span::Span;
pub use table::{
    is_builtin_table, Operand, Service, TableDef, TableOrigin, TableSource, TableUse,
    BUILTIN_TABLES, GENERATED_PREFIX,
};
pub(crate) use walk::{
    for_each_filter_ref_mut, for_each_table_ref, for_each_table_ref_mut, FilterSite, Shape, UseSite,
};

use serde::{Deserialize, Serialize};

/// A whole configuration. Vectors keep declaration order; `rules` is the
/// ruleset in file order (first match wins).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Declared tables in file order, then the anonymous ones.
    pub tables: Vec<TableDef>,
    pub pkis: Vec<Pki>,
    pub cas: Vec<Ca>,
    pub procs: Vec<Proc>,
    /// Declared filters in file order, then anonymous inline chains.
    pub filters: Vec<Filter>,
    /// Listeners in file order. Without a `listen on socket` there is still
    /// the local socket: see [`Config::socket_listener`].
    pub listeners: Vec<Listener>,
    /// Declared actions and the actions of old `accept` rules (named
    /// `rule-LINE` or `rule-FILE-LINE`, made unique), in file order.
    pub actions: Vec<Action>,
    pub rules: Vec<Rule>,
    pub smtp: SmtpSettings,
    pub queue: QueueSettings,
    pub bounce: BounceSettings,
    pub srs: SrsSettings,
    pub mta: MtaSettings,
    pub mda: MdaSettings,
    pub scheduler: SchedulerLimits,
    /// `admd NAME`: authserv-id given to filters; `None` = server name.
    pub admd: Option<String>,
}

impl Config {
    /// The declared or anonymous table of that name (builtins are not
    /// listed: see [`is_builtin_table`]).
    pub fn table(&self, name: &str) -> Option<&TableDef> {
        self.tables.iter().find(|t| t.name == name)
    }

    pub fn action(&self, name: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// PKI by name (names are lowercase).
    pub fn pki(&self, name: &str) -> Option<&Pki> {
        let name = name.to_ascii_lowercase();
        self.pkis.iter().find(|p| p.name == name)
    }

    pub fn ca(&self, name: &str) -> Option<&Ca> {
        let name = name.to_ascii_lowercase();
        self.cas.iter().find(|c| c.name == name)
    }

    pub fn filter(&self, name: &str) -> Option<&Filter> {
        self.filters.iter().find(|f| f.name == name)
    }

    pub fn proc(&self, name: &str) -> Option<&Proc> {
        self.procs.iter().find(|p| p.name == name)
    }

    /// The local enqueue socket listener: the configured one, or the
    /// default OpenSMTPD always creates.
    pub fn socket_listener(&self) -> Listener {
        self.listeners
            .iter()
            .find(|l| l.on == ListenOn::Socket)
            .cloned()
            .unwrap_or_else(Listener::default_socket)
    }

    /// Every table reference with the service it needs, in a fixed order
    /// (listeners, actions, rules, filters). Builtin names are included.
    pub fn table_uses(&self) -> Vec<TableUse> {
        let mut out = Vec::new();
        for_each_table_ref(self, &mut |name, site, regex, span| {
            out.push(TableUse {
                table: name.clone(),
                service: site.service(regex),
                span: span.clone(),
            })
        });
        out
    }

    /// Set every span to the default, so configurations parsed from
    /// different texts compare equal when they mean the same thing.
    pub fn strip_spans(&mut self) {
        let z = Span::default;
        self.tables.iter_mut().for_each(|t| t.span = z());
        self.pkis.iter_mut().for_each(|p| p.span = z());
        self.cas.iter_mut().for_each(|c| c.span = z());
        self.procs.iter_mut().for_each(|p| p.span = z());
        self.filters.iter_mut().for_each(|f| f.span = z());
        self.listeners.iter_mut().for_each(|l| l.span = z());
        self.actions.iter_mut().for_each(|a| a.span = z());
        self.mda.wrappers.iter_mut().for_each(|w| w.span = z());
        if let Some(e) = &mut self.queue.encryption {
            e.span = z();
        }
        for r in &mut self.rules {
            r.span = z();
            r.conditions.iter_mut().for_each(|c| c.span = z());
        }
    }
}
