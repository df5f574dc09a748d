//! Global settings, printed only where they differ from the defaults.

use std::fmt::Write;

use crate::model::{
    BounceSettings, Family, MdaLimits, MtaLimits, QueueKey, QueueSettings, SchedulerLimits,
    SmtpSettings, SrsSettings,
};
use crate::units::{format_delay, format_size};

use super::{quote, word, Printer};

/// `key value` pairs of `now` that differ from `base`.
fn diff(now: Vec<(&'static str, u64)>, base: Vec<(&'static str, u64)>) -> String {
    let mut s = String::new();
    for ((k, v), (_, b)) in now.into_iter().zip(base) {
        if v != b {
            let _ = write!(s, " {k} {v}");
        }
    }
    s
}

fn family(f: Option<Family>) -> &'static str {
    match f {
        Some(Family::Inet4) => " inet4",
        Some(Family::Inet6) => " inet6",
        None => "",
    }
}

impl Printer<'_> {
    pub(super) fn settings(&mut self) {
        let c = self.cfg;
        let d = SmtpSettings::default();
        if c.smtp.max_message_size != d.max_message_size {
            self.line(format!(
                "smtp max-message-size {}",
                format_size(c.smtp.max_message_size)
            ));
        }
        let mut lim = String::new();
        if c.smtp.max_rcpt != d.max_rcpt {
            let _ = write!(lim, " max-rcpt {}", c.smtp.max_rcpt);
        }
        if c.smtp.max_mails != d.max_mails {
            let _ = write!(lim, " max-mails {}", c.smtp.max_mails);
        }
        if !lim.is_empty() {
            self.line(format!("smtp limit{lim}"));
        }
        if c.smtp.sub_addr_delim != d.sub_addr_delim {
            self.line(format!(
                "smtp sub-addr-delim {}",
                quote(&c.smtp.sub_addr_delim.to_string())
            ));
        }
        if let Some(s) = &c.smtp.ciphers {
            self.line(format!("smtp ciphers {}", quote(s)));
        }
        if let Some(s) = &c.smtp.curve {
            self.line("# curve (5.7) has no equivalent today");
            self.line(format!("curve {}", quote(s)));
        }

        let q = QueueSettings::default();
        if c.queue.ttl != q.ttl {
            self.line(format!("queue ttl {}", format_delay(c.queue.ttl)));
        }
        if c.queue.compression {
            self.line("queue compression");
        }
        match c.queue.encryption.as_ref().map(|e| &e.key) {
            None => {}
            Some(QueueKey::Prompt) => self.line("queue encryption"),
            Some(QueueKey::Stdin) => self.line("queue encryption stdin"),
            Some(QueueKey::Key(k)) => self.line(format!("queue encryption {}", quote(k))),
        }

        if c.bounce != BounceSettings::default() {
            let v: Vec<String> = c
                .bounce
                .warn_interval
                .iter()
                .map(|d| format_delay(*d))
                .collect();
            if v.is_empty() {
                self.line("# bounce-warn with no delay: no delay warnings");
                self.line("bounce-warn");
            } else {
                self.line(format!("bounce warn-interval {}", v.join(", ")));
            }
        }

        let s = SrsSettings::default();
        if let Some(k) = &c.srs.key {
            self.line(format!("srs key {}", quote(k)));
        }
        if let Some(k) = &c.srs.key_backup {
            self.line(format!("srs key backup {}", quote(k)));
        }
        if c.srs.ttl_days != s.ttl_days {
            self.line(format!("srs ttl {}d", c.srs.ttl_days));
        }

        if c.mta.max_deferred != 100 {
            self.line(format!("mta max-deferred {}", c.mta.max_deferred));
        }
        let base = MtaLimits::default();
        let l = &c.mta.limits;
        let changes = format!(
            "{}{}",
            family(l.family),
            diff(l.counts.entries(), base.counts.entries())
        );
        if !changes.is_empty() {
            self.line(format!("mta limit{changes}"));
        }
        for dl in &c.mta.domain_limits {
            // A domain's limits start as a copy of the defaults printed above.
            let changes = format!(
                "{}{}",
                if dl.limits.family != l.family {
                    family(dl.limits.family)
                } else {
                    ""
                },
                diff(dl.limits.counts.entries(), l.counts.entries())
            );
            self.line(format!(
                "mta limit for domain {}{changes}",
                word(&dl.domain)
            ));
        }

        let changes = diff(c.mda.limits.entries(), MdaLimits::default().entries());
        if !changes.is_empty() {
            self.line(format!("mda limit{changes}"));
        }
        for w in &c.mda.wrappers {
            self.line(format!(
                "mda wrapper {} {}",
                word(&w.name),
                quote(&w.command)
            ));
        }
        let changes = diff(c.scheduler.entries(), SchedulerLimits::default().entries());
        if !changes.is_empty() {
            self.line(format!("scheduler limit{changes}"));
        }
        if let Some(a) = &c.admd {
            self.line(format!("admd {}", quote(a)));
        }
    }
}
