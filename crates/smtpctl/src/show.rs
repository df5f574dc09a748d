//! `show queue|envelope|message|stats|status`. The first three read the
//! spool directly when the daemon is down (OpenSMTPD's smtpctl does the
//! same), without changing anything in it.

use smtpd_control_proto::{QueueEntry, Request, Response, RunState};
use smtpd_queue::SpoolReader;
use smtpd_types::{EvpId, MsgId};
use std::io::{BufWriter, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::cli::Place;
use crate::commands::{connect, failure};
use crate::error::{output_error, CtlError};
use crate::text;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The daemon, or `None` when it is not running (the offline cases).
fn online(place: &Place) -> Result<Option<smtpd_control_proto::Client>, CtlError> {
    match connect(place) {
        Ok(c) => Ok(Some(c)),
        Err(CtlError::NotRunning(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn spool(place: &Place) -> Result<SpoolReader, CtlError> {
    SpoolReader::open(&place.spool).map_err(|e| {
        CtlError::Io(format!(
            "smtpd is not running and the spool cannot be read: {e}"
        ))
    })
}

/// `show queue [MSGID]` (and `mailq`).
pub fn queue(place: &Place, msgid: Option<MsgId>) -> Result<(), CtlError> {
    let Some(mut client) = online(place)? else {
        return offline_queue(place, msgid);
    };
    client.send(&Request::ShowQueue { msgid })?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    loop {
        match client.recv()?.0 {
            Response::QueuePage(entries) => {
                let now = now();
                for e in entries {
                    writeln!(out, "{}", e.line(now)).map_err(output_error)?;
                }
            }
            Response::End => return out.flush().map_err(output_error),
            other => return Err(failure(other, "QueuePage")),
        }
    }
}

/// The spool walked directly: every envelope with run state `offline`.
/// A damaged envelope is reported and the listing goes on.
fn offline_queue(place: &Place, msgid: Option<MsgId>) -> Result<(), CtlError> {
    let reader = spool(place)?;
    let walk = reader
        .walk()
        .map_err(|e| CtlError::Io(format!("reading the spool: {e}")))?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut damaged = 0usize;
    for item in walk {
        match item {
            Ok(env) if msgid.is_none_or(|m| env.msgid() == m) => {
                let line = QueueEntry::new(&env, RunState::Offline, false, false).line(now());
                writeln!(out, "{line}").map_err(output_error)?;
            }
            Ok(_) => {}
            Err(e) => {
                damaged += 1;
                eprintln!("smtpctl: {e}");
            }
        }
    }
    out.flush().map_err(output_error)?;
    if damaged > 0 {
        return Err(CtlError::Io(format!(
            "{damaged} envelope(s) of the spool could not be read"
        )));
    }
    Ok(())
}

/// `show envelope EVPID`: the envelope file's text.
pub fn envelope(place: &Place, evpid: EvpId) -> Result<(), CtlError> {
    let bytes = match online(place)? {
        Some(mut c) => match c.request(&Request::ShowEnvelope(evpid))?.0 {
            Response::EnvelopeText(t) => t.into_bytes(),
            other => return Err(failure(other, "EnvelopeText")),
        },
        None => spool(place)?
            .envelope_raw(evpid)
            .map_err(|e| CtlError::Failed(e.to_string()))?,
    };
    let mut out = std::io::stdout().lock();
    out.write_all(&bytes)
        .and_then(|()| out.flush())
        .map_err(output_error)
}

/// `show message EVPID|MSGID`: the message file, copied out.
pub fn message(place: &Place, msgid: MsgId) -> Result<(), CtlError> {
    let mut file = match online(place)? {
        Some(mut c) => match c.request(&Request::ShowMessage(msgid))? {
            (Response::Message, mut fds) => match fds.pop() {
                Some(fd) => std::fs::File::from(fd),
                None => return Err(CtlError::Failed("no message file came".into())),
            },
            (other, _) => return Err(failure(other, "Message")),
        },
        None => spool(place)?
            .message(msgid)
            .map_err(|e| CtlError::Failed(e.to_string()))?,
    };
    let mut out = std::io::stdout().lock();
    std::io::copy(&mut file, &mut out)
        .and_then(|_| out.flush())
        .map_err(output_error)
}

/// `show stats`: `key=value` lines in name order, `uptime` and
/// `uptime.human` among them, as OpenSMTPD prints them.
pub fn stats(place: &Place) -> Result<(), CtlError> {
    let (mut counters, uptime) = match connect(place)?.request(&Request::ShowStats)?.0 {
        Response::Stats { counters, uptime } => (counters, uptime),
        other => return Err(failure(other, "Stats")),
    };
    counters.push(("uptime".into(), i64::try_from(uptime).unwrap_or(i64::MAX)));
    counters.sort();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for (k, v) in counters {
        writeln!(out, "{k}={v}").map_err(output_error)?;
        if k == "uptime" {
            writeln!(out, "uptime.human={}", text::duration(uptime)).map_err(output_error)?;
        }
    }
    out.flush().map_err(output_error)
}

/// `show status`: `MDA running|paused`, `MTA …`, `SMTP …`.
pub fn status(place: &Place) -> Result<(), CtlError> {
    let st = match connect(place)?.request(&Request::ShowStatus)?.0 {
        Response::Status(st) => st,
        other => return Err(failure(other, "Status")),
    };
    let word = |paused: bool| if paused { "paused" } else { "running" };
    text::say(&format!(
        "MDA {}\nMTA {}\nSMTP {}",
        word(st.mda_paused),
        word(st.mta_paused),
        word(st.smtp_paused)
    ))
}
