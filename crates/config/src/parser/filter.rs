//! `filter …` (today's builtin/proc/proc-exec/chain filters and the old
//! experimental `filter NAME [path args]`), `proc …`, and filter operands.

use crate::lexer::Tok;
use crate::model::{
    Filter, FilterCond, FilterCondition, FilterDecision, FilterKind, FilterPhase, FilterSite, Proc,
    RunAs, UseSite,
};

use super::{Dialect, PResult, Parser};

/// Where the old experimental filters were installed.
const OLD_FILTER_DIR: &str = "/usr/libexec/smtpd";

const DECISIONS: &[&str] = &[
    "bypass",
    "junk",
    "reject",
    "disconnect",
    "rewrite",
    "report",
];

impl Parser {
    pub(super) fn filter(&mut self) -> PResult<()> {
        let kw = self.bump();
        let (name, npos) = self.string("a filter name")?;
        self.check_user_name(&name, &npos, "filter")?;
        let modern = self.at("proc")
            || self.at("proc-exec")
            || self.at("phase")
            || (self.at("chain") && self.peek2().tok == Tok::LBrace);
        if self.b.cfg.filter(&name).is_some() {
            return self.fail(
                &npos,
                format!("filter already exists with that name: {name}"),
            );
        }
        let kind = if modern {
            self.dialect = Dialect::Modern;
            self.modern_filter(&name)?
        } else {
            self.dialect = Dialect::Old;
            self.old_filter(&name)?
        };
        self.end()?;
        self.b.cfg.filters.push(Filter {
            name,
            kind,
            inline: false,
            span: kw.pos.span(),
        });
        Ok(())
    }

    fn modern_filter(&mut self, name: &str) -> PResult<FilterKind> {
        if self.eat("proc") {
            let (proc, ppos) = self.string("a proc name")?;
            if self.b.cfg.proc(&proc).is_none() {
                return self.fail(&ppos, format!("no processor exist with that name: {proc}"));
            }
            return Ok(FilterKind::Proc { proc });
        }
        if self.eat("proc-exec") {
            let pos = self.pos();
            if self.b.cfg.proc(name).is_some() {
                return self.fail(
                    &pos,
                    format!("processor already exists with that name: {name}"),
                );
            }
            let (command, _) = self.string("a command")?;
            let run = self.run_as()?;
            return Ok(FilterKind::ProcExec { command, run });
        }
        if self.eat("chain") {
            let filters = self.filter_list()?;
            return Ok(FilterKind::Chain { filters });
        }
        self.expect_kw("phase")?;
        let (phase, _, ppos) = self.word("a filter phase")?;
        let phase = match phase.as_str() {
            "connect" => FilterPhase::Connect,
            "helo" => FilterPhase::Helo,
            "ehlo" => FilterPhase::Ehlo,
            "auth" => FilterPhase::Auth,
            "mail-from" => FilterPhase::MailFrom,
            "rcpt-to" => FilterPhase::RcptTo,
            "data" => FilterPhase::Data,
            "commit" => FilterPhase::Commit,
            _ => {
                return self.fail(
                    &ppos,
                    format!(
                        "found '{phase}', expected a filter phase (connect, helo, ehlo, auth, \
                         mail-from, rcpt-to, data or commit)"
                    ),
                );
            }
        };
        self.expect_kw("match")?;
        let mut conditions = Vec::new();
        loop {
            conditions.push(self.filter_condition(phase)?);
            if DECISIONS.iter().any(|d| self.at(d)) || self.at_eol() {
                break;
            }
        }
        let decision = self.filter_decision(phase)?;
        Ok(FilterKind::Builtin {
            phase,
            conditions,
            decision,
        })
    }

    fn filter_condition(&mut self, phase: FilterPhase) -> PResult<FilterCondition> {
        use FilterPhase::*;
        let negated = self.eat_tok(&Tok::Bang);
        let (kw, pos) = match &self.peek().tok {
            Tok::Word {
                text,
                quoted: false,
            } => (text.clone(), self.pos()),
            _ => {
                return self.unexpected(
                    "a filter condition (fcrdns, rdns, src, helo, auth, mail-from, rcpt-to)",
                )
            }
        };
        let allowed = match kw.as_str() {
            "fcrdns" | "rdns" | "src" => true,
            "helo" => phase != Connect,
            "auth" => !matches!(phase, Connect | Helo | Ehlo),
            "mail-from" => !matches!(phase, Connect | Helo | Ehlo | Auth),
            "rcpt-to" => phase == RcptTo,
            _ => {
                return self.unexpected(
                    "a filter condition (fcrdns, rdns, src, helo, auth, mail-from, rcpt-to)",
                )
            }
        };
        if !allowed {
            return self.fail(
                &pos,
                format!(
                    "condition '{kw}' cannot be checked at the {} phase",
                    phase.keyword()
                ),
            );
        }
        self.bump();
        let site = |s| UseSite::Filter(s);
        let cond = match kw.as_str() {
            "fcrdns" => FilterCond::Fcrdns,
            "rdns" => FilterCond::Rdns(self.opt_operand(site(FilterSite::Rdns))?),
            "src" => FilterCond::Src(self.operand(site(FilterSite::Src))?),
            "helo" => FilterCond::Helo(self.operand(site(FilterSite::Helo))?),
            "auth" => FilterCond::Auth(self.opt_operand(site(FilterSite::Auth))?),
            "mail-from" => FilterCond::MailFrom(self.operand(site(FilterSite::Mailaddr))?),
            _ => FilterCond::RcptTo(self.operand(site(FilterSite::Mailaddr))?),
        };
        Ok(FilterCondition { negated, cond })
    }

    fn filter_decision(&mut self, phase: FilterPhase) -> PResult<FilterDecision> {
        let pos = self.pos();
        let d = if self.eat("bypass") {
            FilterDecision::Bypass
        } else if self.eat("junk") {
            FilterDecision::Junk
        } else if self.eat("reject") {
            FilterDecision::Reject(self.string("a reject message")?.0)
        } else if self.eat("disconnect") {
            FilterDecision::Disconnect(self.string("a disconnect message")?.0)
        } else if self.eat("rewrite") {
            FilterDecision::Rewrite(self.string("a rewrite value")?.0)
        } else if self.eat("report") {
            FilterDecision::Report(self.string("a report value")?.0)
        } else {
            return self.unexpected(
                "a filter decision (bypass, junk, reject, disconnect, rewrite or report)",
            );
        };
        if phase == FilterPhase::Commit
            && matches!(d, FilterDecision::Bypass | FilterDecision::Junk)
        {
            return self.fail(&pos, "junk and bypass are not allowed at the commit phase");
        }
        Ok(d)
    }

    /// Old 5.x: `filter NAME [PATH [ARGS…]]` or `filter NAME chain F…`.
    fn old_filter(&mut self, name: &str) -> PResult<FilterKind> {
        if self.eat("chain") {
            let mut filters = Vec::new();
            while !self.at_eol() {
                let (f, fpos) = self.string("a filter name")?;
                self.check_chain_member(&filters, &f, &fpos)?;
                filters.push(f);
            }
            return Ok(FilterKind::Chain { filters });
        }
        let mut words = Vec::new();
        while !self.at_eol() {
            words.push(self.string("a filter path or argument")?.0);
        }
        let command = if words.is_empty() {
            format!("{OLD_FILTER_DIR}/{name}")
        } else {
            words.join(" ")
        };
        Ok(FilterKind::ProcExec {
            command,
            run: RunAs::default(),
        })
    }

    /// `[user U] [group G] [chroot D]`, each at most once.
    fn run_as(&mut self) -> PResult<RunAs> {
        let mut run = RunAs::default();
        loop {
            let pos = self.pos();
            let slot = if self.eat("user") {
                &mut run.user
            } else if self.eat("group") {
                &mut run.group
            } else if self.eat("chroot") {
                &mut run.chroot
            } else {
                return Ok(run);
            };
            if slot.is_some() {
                return self.fail(&pos, "option already specified for this processor");
            }
            *slot = Some(self.string("a value")?.0);
        }
    }

    /// `proc NAME "cmd" [user U] [group G] [chroot D]`
    pub(super) fn proc(&mut self) -> PResult<()> {
        let kw = self.bump();
        self.dialect = Dialect::Modern;
        let (name, npos) = self.string("a proc name")?;
        let exists = self.b.cfg.proc(&name).is_some()
            || self
                .b
                .cfg
                .filter(&name)
                .is_some_and(|f| matches!(f.kind, FilterKind::ProcExec { .. }));
        if exists {
            return self.fail(
                &npos,
                format!("processor already exists with that name: {name}"),
            );
        }
        let (command, _) = self.string("a command")?;
        let run = self.run_as()?;
        self.end()?;
        self.b.cfg.procs.push(Proc {
            name,
            command,
            run,
            span: kw.pos.span(),
        });
        Ok(())
    }

    /// A filter operand of a listener or relay: `NAME` or `{ a, b }` (an
    /// anonymous chain).
    pub(super) fn filter_ref(&mut self) -> PResult<String> {
        if self.at_tok(&Tok::LBrace) {
            let pos = self.pos();
            let filters = self.filter_list()?;
            return Ok(self.b.anon_chain(filters, pos.span()));
        }
        let (name, npos) = self.string("a filter name or { … }")?;
        if self.b.cfg.filter(&name).is_none() {
            return self.fail(&npos, format!("no filter exist with that name: {name}"));
        }
        Ok(name)
    }

    /// `{ a, b }`: existing, non-chain filters, each once, each proc once.
    fn filter_list(&mut self) -> PResult<Vec<String>> {
        let open = self.expect_tok(Tok::LBrace, "'{'")?;
        let mut filters = Vec::new();
        loop {
            while self.eat_tok(&Tok::Newline) {
                self.stop_at_statement(&open)?;
            }
            if self.eat_tok(&Tok::RBrace) {
                break;
            }
            let (f, fpos) = self.string("a filter name or '}'")?;
            self.check_chain_member(&filters, &f, &fpos)?;
            filters.push(f);
            self.eat_tok(&Tok::Comma);
        }
        if filters.is_empty() {
            return self.fail(&open, "empty filter chain { }");
        }
        Ok(filters)
    }

    fn check_chain_member(
        &mut self,
        so_far: &[String],
        f: &str,
        pos: &crate::lexer::Pos,
    ) -> PResult<()> {
        let Some(def) = self.b.cfg.filter(f) else {
            return self.fail(pos, format!("no filter exist with that name: {f}"));
        };
        if matches!(def.kind, FilterKind::Chain { .. }) {
            return self.fail(
                pos,
                format!("no filter chain allowed within a filter chain: {f}"),
            );
        }
        if so_far.iter().any(|x| x == f) {
            return self.fail(
                pos,
                format!("no filter allowed twice within a filter chain: {f}"),
            );
        }
        let proc_of = |name: &str| match self.b.cfg.filter(name).map(|d| &d.kind) {
            Some(FilterKind::Proc { proc }) => Some(proc.clone()),
            Some(FilterKind::ProcExec { .. }) => Some(name.to_string()),
            _ => None,
        };
        if let Some(p) = proc_of(f) {
            if so_far
                .iter()
                .any(|x| proc_of(x).as_deref() == Some(p.as_str()))
            {
                return self.fail(
                    pos,
                    format!("no proc allowed twice within a filter chain: {p}"),
                );
            }
        }
        Ok(())
    }
}
