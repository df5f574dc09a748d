//! The configuration under construction, and the naming pass that runs
//! once the whole input is read.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::diag::Diag;
use crate::lexer::Pos;
use crate::model::{
    for_each_filter_ref_mut, for_each_table_ref, for_each_table_ref_mut, ActionOrigin, Config,
    Decision, Filter, Method, Span, TableDef, TableOrigin, TableSource,
};

/// Temporary names start with this; final ones are given in [`Builder::finish`].
const TEMP: &str = "<tmp:";
/// Placeholder name of an old rule's action until it is named.
const OLD_ACTION: &str = "\u{0}old:";

pub(crate) struct Builder {
    pub cfg: Config,
    top_file: String,
    seq: u32,
    pub socket_listener: bool,
}

impl Builder {
    pub fn new(top_file: &str) -> Self {
        Builder {
            cfg: Config::default(),
            top_file: top_file.to_string(),
            seq: 0,
            socket_listener: false,
        }
    }

    fn next_temp(&mut self, prefix: &str) -> String {
        self.seq = self.seq.wrapping_add(1);
        format!("{prefix}{}>", self.seq)
    }

    /// Register an inline or literal table; returns its (temporary) name.
    pub fn anon_table(&mut self, source: TableSource, origin: TableOrigin, span: Span) -> String {
        let name = self.next_temp(TEMP);
        self.cfg.tables.push(TableDef {
            name: name.clone(),
            source,
            origin,
            span,
        });
        name
    }

    /// Register an inline filter chain; returns its (temporary) name.
    pub fn anon_chain(&mut self, filters: Vec<String>, span: Span) -> String {
        let name = self.next_temp(TEMP);
        self.cfg.filters.push(Filter {
            name: name.clone(),
            kind: crate::model::FilterKind::Chain { filters },
            inline: true,
            span,
        });
        name
    }

    /// A placeholder name for the action of an old rule.
    pub fn old_action_name(&mut self) -> String {
        self.seq = self.seq.wrapping_add(1);
        format!("{OLD_ACTION}{}", self.seq)
    }

    /// Final naming; returns the configuration and the checks that need
    /// the whole file.
    pub fn finish(mut self, end: &Pos) -> (Config, Vec<Diag>) {
        self.name_old_actions();
        self.name_anonymous_tables();
        self.name_anonymous_chains();
        let mut diags = Vec::new();
        // Relay actions name their pki/ca at runtime: any declaration counts.
        for a in &self.cfg.actions {
            if let Method::Relay(r) = &a.method {
                if let Some(p) = r.pki.as_ref().filter(|p| self.cfg.pki(p).is_none()) {
                    diags.push(Diag::at(&a.span, format!("pki name not found: {p}")));
                }
                if let Some(c) = r.ca.as_ref().filter(|c| self.cfg.ca(c).is_none()) {
                    diags.push(Diag::at(&a.span, format!("ca name not found: {c}")));
                }
            }
        }
        if self.cfg.rules.is_empty() {
            diags.push(Diag::at(&end.span(), "no rules, nothing to do"));
        }
        (self.cfg, diags)
    }

    /// Old rules' actions get `rule-LINE` (`rule-FILE-LINE` in an included
    /// file), made unique against every declared action name.
    fn name_old_actions(&mut self) {
        let mut used: HashSet<String> = self
            .cfg
            .actions
            .iter()
            .filter(|a| a.origin == ActionOrigin::Declared)
            .map(|a| a.name.clone())
            .collect();
        let mut renames = HashMap::new();
        for a in &mut self.cfg.actions {
            if !a.name.starts_with(OLD_ACTION) {
                continue;
            }
            let base = if a.span.file == self.top_file {
                format!("rule-{}", a.span.line)
            } else {
                let stem = Path::new(&a.span.file)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!("rule-{stem}-{}", a.span.line)
            };
            let mut name = base.clone();
            let mut k = 2;
            while used.contains(&name) {
                name = format!("{base}-{k}");
                k += 1;
            }
            used.insert(name.clone());
            renames.insert(std::mem::replace(&mut a.name, name.clone()), name);
        }
        for r in &mut self.cfg.rules {
            if let Decision::Action(n) = &mut r.decision {
                if let Some(new) = renames.get(n) {
                    *n = new.clone();
                }
            }
        }
    }

    /// Anonymous tables are named `<anon:N>` in the order the fixed walk
    /// meets them, so the names do not depend on statement order; tables
    /// of abandoned statements are dropped.
    fn name_anonymous_tables(&mut self) {
        let mut order = Vec::new();
        let mut seen = HashSet::new();
        for_each_table_ref(&self.cfg, &mut |name, _, _, _| {
            if name.starts_with(TEMP) && seen.insert(name.clone()) {
                order.push(name.clone());
            }
        });
        let map: HashMap<String, String> = order
            .iter()
            .enumerate()
            .map(|(i, old)| (old.clone(), format!("<anon:{}>", i + 1)))
            .collect();
        for_each_table_ref_mut(&mut self.cfg, &mut |name, _, _, _| {
            if let Some(new) = map.get(name.as_str()) {
                *name = new.clone();
            }
        });
        let (mut declared, anon): (Vec<TableDef>, Vec<TableDef>) =
            std::mem::take(&mut self.cfg.tables)
                .into_iter()
                .partition(|t| t.origin == TableOrigin::Declared);
        let mut by_name: HashMap<String, TableDef> =
            anon.into_iter().map(|t| (t.name.clone(), t)).collect();
        for old in &order {
            if let (Some(mut t), Some(new)) = (by_name.remove(old), map.get(old)) {
                t.name = new.clone();
                declared.push(t);
            }
        }
        self.cfg.tables = declared;
    }

    /// Inline filter chains become `<chain:N>` the same way.
    fn name_anonymous_chains(&mut self) {
        let mut order = Vec::new();
        let mut seen = HashSet::new();
        for_each_filter_ref_mut(&mut self.cfg, &mut |name| {
            if name.starts_with(TEMP) && seen.insert(name.clone()) {
                order.push(name.clone());
            }
        });
        let map: HashMap<String, String> = order
            .iter()
            .enumerate()
            .map(|(i, old)| (old.clone(), format!("<chain:{}>", i + 1)))
            .collect();
        for_each_filter_ref_mut(&mut self.cfg, &mut |name| {
            if let Some(new) = map.get(name.as_str()) {
                *name = new.clone();
            }
        });
        let (mut declared, anon): (Vec<Filter>, Vec<Filter>) =
            std::mem::take(&mut self.cfg.filters)
                .into_iter()
                .partition(|f| !f.inline);
        let mut by_name: HashMap<String, Filter> =
            anon.into_iter().map(|f| (f.name.clone(), f)).collect();
        for old in &order {
            if let (Some(mut f), Some(new)) = (by_name.remove(old), map.get(old)) {
                f.name = new.clone();
                declared.push(f);
            }
        }
        self.cfg.filters = declared;
    }
}
