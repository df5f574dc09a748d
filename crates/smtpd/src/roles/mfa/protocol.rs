//! The filter line protocol, version 0.7 (smtpd-filters(7)), without I/O:
//! the lines we write to a filter process and the parsing of the lines it
//! writes back. Message lines are bytes, not text: 8-bit mail goes
//! through a filter unchanged.

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

pub const VERSION: &str = "0.7";
/// The OpenSMTPD release whose protocol we speak, for filters that check.
pub const SMTPD_VERSION: &str = "7.8.0";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtoError {
    #[error("malformed line from filter: {0:?}")]
    Malformed(String),
    #[error("unknown decision {0:?}")]
    UnknownDecision(String),
}

/// The lines of the configuration handshake.
pub fn config_lines(session_timeout: u64) -> Vec<String> {
    vec![
        format!("config|smtpd-version|{SMTPD_VERSION}"),
        format!("config|protocol|{VERSION}"),
        format!("config|smtp-session-timeout|{session_timeout}"),
        "config|subsystem|smtp-in".to_string(),
        "config|subsystem|smtp-out".to_string(),
        "config|ready".to_string(),
    ]
}

/// What a filter registered for, from its `register|…` lines.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Registrations {
    /// smtp-in report events (`*` stands for all).
    pub reports: HashSet<String>,
    /// smtp-in filter phases.
    pub phases: HashSet<String>,
    /// smtp-out report events (`*` stands for all).
    pub out_reports: HashSet<String>,
}

impl Registrations {
    pub fn wants_report(&self, event: &str) -> bool {
        self.reports.contains("*") || self.reports.contains(event)
    }

    pub fn wants_out_report(&self, event: &str) -> bool {
        self.out_reports.contains("*") || self.out_reports.contains(event)
    }

    pub fn wants_phase(&self, phase: &str) -> bool {
        self.phases.contains(phase)
    }

    /// Take one `register|…` line; `Ok(true)` at `register|ready`.
    /// smtp-out filter phases are accepted and ignored: relayed mail is
    /// reported on, not filtered.
    pub fn take(&mut self, line: &str) -> Result<bool, ProtoError> {
        let f: Vec<&str> = line.split('|').collect();
        match f.as_slice() {
            ["register", "ready"] => Ok(true),
            ["register", "report", "smtp-in", ev] => {
                self.reports.insert(ev.to_string());
                Ok(false)
            }
            ["register", "filter", "smtp-in", phase] => {
                self.phases.insert(phase.to_string());
                Ok(false)
            }
            ["register", "report", "smtp-out", ev] => {
                self.out_reports.insert(ev.to_string());
                Ok(false)
            }
            ["register", "filter", "smtp-out", _] => Ok(false),
            _ => Err(ProtoError::Malformed(line.to_string())),
        }
    }
}

/// `seconds.microseconds`, as OpenSMTPD stamps its lines.
pub fn timestamp() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:06}", d.as_secs(), d.subsec_micros())
}

/// The session id as filters see it.
pub fn session_id(id: u64) -> String {
    format!("{id:016x}")
}

/// `report|0.7|TS|SUBSYSTEM|EVENT|SESSION|fields…`
pub fn report_line(
    ts: &str,
    subsystem: &str,
    event: &str,
    session: u64,
    fields: &[String],
) -> String {
    let mut l = format!(
        "report|{VERSION}|{ts}|{subsystem}|{event}|{}",
        session_id(session)
    );
    for f in fields {
        l.push('|');
        l.push_str(&clean(f));
    }
    l
}

/// `filter|0.7|TS|smtp-in|PHASE|SESSION|TOKEN|params…`
pub fn filter_line(ts: &str, phase: &str, session: u64, token: u64, params: &[String]) -> String {
    let mut l = format!(
        "filter|{VERSION}|{ts}|smtp-in|{phase}|{}|{token:016x}",
        session_id(session)
    );
    for p in params {
        l.push('|');
        l.push_str(&clean(p));
    }
    l
}

/// A field never carries a line end (a client's HELO cannot start a line
/// of its own).
fn clean(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// What a filter decided for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Proceed,
    Junk,
    Reject(String),
    Disconnect(String),
    Rewrite(String),
    Report(String),
}

/// One line a filter wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// `filter-result|SESSION|TOKEN|DECISION[|PARAM]`
    Result {
        session: u64,
        token: u64,
        decision: Decision,
    },
    /// `filter-dataline|SESSION|TOKEN|LINE` (the line still dot-escaped).
    DataLine {
        session: u64,
        token: u64,
        line: Vec<u8>,
    },
    /// Anything else a filter may say (its own `report|…` lines).
    Other,
}

fn hex(s: &str, line: &str) -> Result<u64, ProtoError> {
    u64::from_str_radix(s, 16).map_err(|_| ProtoError::Malformed(line.to_string()))
}

/// Parse one line a filter wrote (without its line end).
pub fn parse_output(raw: &[u8]) -> Result<Output, ProtoError> {
    if let Some(rest) = raw.strip_prefix(b"filter-dataline|".as_slice()) {
        let text = String::from_utf8_lossy(raw);
        let mut f = rest.splitn(3, |b| *b == b'|');
        let (Some(s), Some(t), Some(l)) = (f.next(), f.next(), f.next()) else {
            return Err(ProtoError::Malformed(text.into_owned()));
        };
        let s = String::from_utf8_lossy(s);
        let t = String::from_utf8_lossy(t);
        return Ok(Output::DataLine {
            session: hex(&s, &text)?,
            token: hex(&t, &text)?,
            line: l.to_vec(),
        });
    }
    let line = &*String::from_utf8_lossy(raw);
    let bad = || ProtoError::Malformed(line.to_string());
    if let Some(rest) = line.strip_prefix("filter-result|") {
        let mut f = rest.splitn(4, '|');
        let (Some(s), Some(t), Some(d)) = (f.next(), f.next(), f.next()) else {
            return Err(bad());
        };
        let param = f.next().map(str::to_string);
        let need = |p: Option<String>| p.ok_or_else(bad);
        let decision = match d {
            "proceed" => Decision::Proceed,
            "junk" => Decision::Junk,
            "reject" => Decision::Reject(need(param)?),
            "disconnect" => Decision::Disconnect(need(param)?),
            "rewrite" => Decision::Rewrite(need(param)?),
            "report" => Decision::Report(need(param)?),
            other => return Err(ProtoError::UnknownDecision(other.to_string())),
        };
        return Ok(Output::Result {
            session: hex(s, line)?,
            token: hex(t, line)?,
            decision,
        });
    }
    Ok(Output::Other)
}

/// The message as `data-line` parameters: one per line, without line
/// ends, a leading dot doubled, then the lone `.`.
pub fn data_lines(content: &[u8]) -> Vec<Vec<u8>> {
    let body = content.strip_suffix(b"\n").unwrap_or(content);
    let mut lines: Vec<Vec<u8>> = if content.is_empty() {
        Vec::new()
    } else {
        body.split(|b| *b == b'\n')
            .map(|l| {
                let l = l.strip_suffix(b"\r").unwrap_or(l);
                let mut v = Vec::with_capacity(l.len() + 1);
                if l.first() == Some(&b'.') {
                    v.push(b'.');
                }
                v.extend_from_slice(l);
                v
            })
            .collect()
    };
    lines.push(b".".to_vec());
    lines
}

/// `filter|0.7|TS|smtp-in|data-line|SESSION|TOKEN|LINE`, the line as bytes.
pub fn data_line(ts: &str, session: u64, token: u64, line: &[u8]) -> Vec<u8> {
    let mut l = filter_line(ts, "data-line", session, token, &[]).into_bytes();
    l.push(b'|');
    l.extend(line.iter().filter(|b| **b != b'\r' && **b != b'\n'));
    l
}

/// The content back from `filter-dataline` lines (the final `.` not
/// included): dots undone, LF line ends (as the spool keeps messages; a
/// CR a filter sends is dropped, so none reaches the spool).
pub fn content_of(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        let l = l.strip_prefix(b".").unwrap_or(l);
        out.extend(l.iter().filter(|b| **b != b'\r' && **b != b'\n'));
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_until_ready() {
        let mut r = Registrations::default();
        assert_eq!(r.take("register|report|smtp-in|*"), Ok(false));
        assert_eq!(r.take("register|filter|smtp-in|rcpt-to"), Ok(false));
        assert_eq!(r.take("register|filter|smtp-out|data-line"), Ok(false));
        assert_eq!(r.take("register|report|smtp-out|link-connect"), Ok(false));
        assert!(r.wants_out_report("link-connect"));
        assert!(!r.wants_out_report("tx-begin"));
        assert_eq!(r.take("register|ready"), Ok(true));
        assert!(r.wants_report("link-connect"));
        assert!(r.wants_phase("rcpt-to"));
        assert!(!r.wants_phase("data-line"));
        assert!(r.take("hello").is_err());
    }

    #[test]
    fn lines_we_write() {
        assert_eq!(
            report_line(
                "1.000001",
                "smtp-in",
                "tx-mail",
                0xab,
                &["1".into(), "ok".into()]
            ),
            "report|0.7|1.000001|smtp-in|tx-mail|00000000000000ab|1|ok"
        );
        assert_eq!(
            filter_line("2.5", "helo", 1, 2, &["a\r\nb".into()]),
            "filter|0.7|2.5|smtp-in|helo|0000000000000001|0000000000000002|a  b"
        );
        assert_eq!(config_lines(300).last().unwrap(), "config|ready");
    }

    #[test]
    fn results_and_data_lines() {
        assert_eq!(
            parse_output(b"filter-result|00000000000000ab|0000000000000001|reject|550 no|pe"),
            Ok(Output::Result {
                session: 0xab,
                token: 1,
                decision: Decision::Reject("550 no|pe".into())
            })
        );
        assert_eq!(
            parse_output(b"filter-result|1|2|proceed").unwrap(),
            Output::Result {
                session: 1,
                token: 2,
                decision: Decision::Proceed
            }
        );
        assert!(parse_output(b"filter-result|1|2|reject").is_err());
        assert!(parse_output(b"filter-result|1|2|maybe").is_err());
        assert!(parse_output(b"filter-result|zz|2|proceed").is_err());
        assert_eq!(
            parse_output(b"filter-dataline|1|2|..x|y\xe9").unwrap(),
            Output::DataLine {
                session: 1,
                token: 2,
                line: b"..x|y\xe9".to_vec()
            }
        );
        assert_eq!(parse_output(b"report|0.7|x").unwrap(), Output::Other);
    }

    #[test]
    fn data_round_trip() {
        let content = b"A: b\n\n.dot\ncaf\xe9\n";
        let lines = data_lines(content);
        let want: Vec<&[u8]> = vec![b"A: b", b"", b"..dot", b"caf\xe9", b"."];
        assert_eq!(lines, want);
        let back = content_of(&lines[..lines.len() - 1]);
        assert_eq!(back, content);
        assert_eq!(content_of(&[b"x\ry".to_vec()]), b"xy\n");
        assert_eq!(data_lines(b""), vec![b".".to_vec()]);
        assert_eq!(
            data_line("1.0", 1, 2, b"caf\xe9"),
            b"filter|0.7|1.0|smtp-in|data-line|0000000000000001|0000000000000002|caf\xe9".to_vec()
        );
    }
}
