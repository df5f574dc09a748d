//! `smtpctl monitor`: every second, one line of counter changes since the
//! line before (the first line: since the server started), under
//! OpenSMTPD's header, repeated every 25 lines. Stops on Ctrl-C, or after
//! `--count N` lines.

use smtpd_control_proto::{Digest, Request, Response};
use std::time::Duration;

use crate::cli::Place;
use crate::commands::{connect, failure};
use crate::error::CtlError;
use crate::text::say;

const HEADER: &str = "--- client ---  -- envelope --   ---- relay/delivery --- ------- misc -------\n\
                      curr conn disc  curr  enq  deq   ok tmpfail prmfail loop expire remove bounce";

/// One line: current sessions and envelopes, then changes since `last`.
pub fn line(d: &Digest, last: &Digest) -> String {
    let delta = |now: u64, before: u64| now.saturating_sub(before);
    format!(
        "{:4} {:4} {:4}  {:4} {:4} {:4} {:4}    {:4}    {:4} {:4}   {:4}   {:4}   {:4}",
        d.sessions(),
        delta(d.clt_connect, last.clt_connect),
        delta(d.clt_disconnect, last.clt_disconnect),
        d.envelopes(),
        delta(d.evp_enqueued, last.evp_enqueued),
        delta(d.evp_dequeued, last.evp_dequeued),
        delta(d.dlv_ok, last.dlv_ok),
        delta(d.dlv_tempfail, last.dlv_tempfail),
        delta(d.dlv_permfail, last.dlv_permfail),
        delta(d.dlv_loop, last.dlv_loop),
        delta(d.evp_expired, last.evp_expired),
        delta(d.evp_removed, last.evp_removed),
        delta(d.evp_bounce, last.evp_bounce),
    )
}

pub fn run(place: &Place, count: Option<u64>) -> Result<(), CtlError> {
    let mut client = connect(place)?;
    let mut last = Digest::default();
    let mut n: u64 = 0;
    loop {
        let digest = match client.request(&Request::Digest)?.0 {
            Response::Digest(d) => d,
            other => return Err(failure(other, "Digest")),
        };
        if n.is_multiple_of(25) {
            if n != 0 {
                say("")?;
            }
            say(HEADER)?;
        }
        say(&line(&digest, &last))?;
        last = digest;
        n += 1;
        if count.is_some_and(|c| n >= c) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_show_current_values_and_changes() {
        let first = Digest {
            clt_connect: 5,
            clt_disconnect: 3,
            evp_enqueued: 10,
            evp_dequeued: 4,
            dlv_ok: 4,
            ..Digest::default()
        };
        assert_eq!(
            line(&first, &Digest::default()),
            "   2    5    3     6   10    4    4       0       0    0      0      0      0"
        );
        let second = Digest {
            clt_connect: 6,
            dlv_ok: 5,
            evp_dequeued: 5,
            ..first
        };
        let l = line(&second, &first);
        let cols: Vec<&str> = l.split_whitespace().collect();
        assert_eq!(
            cols,
            ["3", "1", "0", "5", "0", "1", "1", "0", "0", "0", "0", "0", "0"]
        );
    }
}
