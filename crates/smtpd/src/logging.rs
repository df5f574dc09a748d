//! Logging: standard error in the foreground (`-d`), syslog otherwise.
//!
//! Lines read like OpenSMTPD's (`smtp-in: session … connected`, `delivery:
//! Ok for …`), prefixed by the process role so that a foreground run shows
//! who said what. The syslog writer connects to `/dev/log` before the
//! process chroots and keeps the socket, because `/dev/log` does not exist
//! inside the empty chroot. (Written by hand: the syslog crates either call
//! libc `syslog(3)`, which reconnects by path and fails in a chroot, or do
//! not plug into `tracing` as a writer.)

use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// Set up logging for this process. `role` prefixes every line.
pub fn init(role: &str, foreground: bool, verbose: bool) {
    let level = if verbose { Level::DEBUG } else { Level::INFO };
    let format = LineFormat {
        role: role.to_string(),
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .event_format(format);
    let result = if foreground {
        builder.with_writer(io::stderr).try_init()
    } else {
        match Syslog::connect() {
            Some(s) => builder.with_writer(s).try_init(),
            None => builder.with_writer(io::stderr).try_init(),
        }
    };
    // Initialising twice (tests that run several roles in one process) keeps
    // the first subscriber, which is what we want.
    let _ = result;
}

struct LineFormat {
    role: String,
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        write!(writer, "{}: ", self.role)?;
        match *event.metadata().level() {
            Level::ERROR => write!(writer, "error: ")?,
            Level::WARN => write!(writer, "warn: ")?,
            Level::DEBUG | Level::TRACE => write!(writer, "debug: ")?,
            Level::INFO => {}
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// A pre-connected `/dev/log` socket.
#[derive(Clone)]
struct Syslog {
    sock: Arc<UnixDatagram>,
    pid: u32,
}

impl Syslog {
    fn connect() -> Option<Self> {
        let sock = UnixDatagram::unbound().ok()?;
        sock.connect("/dev/log").ok()?;
        Some(Syslog {
            sock: Arc::new(sock),
            pid: std::process::id(),
        })
    }
}

/// One log line being written; sent as one datagram when dropped.
struct SyslogLine {
    sink: Syslog,
    buf: Vec<u8>,
}

impl Write for SyslogLine {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogLine {
    fn drop(&mut self) {
        while self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        }
        // Facility mail (2), severity info (6): <2*8+6>.
        let mut line = format!("<22>smtpd[{}]: ", self.sink.pid).into_bytes();
        line.extend_from_slice(&self.buf);
        let _ = self.sink.sock.send(&line);
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogLine;
    fn make_writer(&'a self) -> SyslogLine {
        SyslogLine {
            sink: self.clone(),
            buf: Vec::new(),
        }
    }
}
