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
use std::sync::{Arc, OnceLock};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, Registry};

/// The level of this process's log, changed by `smtpctl log verbose|brief`.
static LEVEL: OnceLock<reload::Handle<LevelFilter, Registry>> = OnceLock::new();

fn level_of(verbose: bool) -> LevelFilter {
    if verbose {
        LevelFilter::DEBUG
    } else {
        LevelFilter::INFO
    }
}

/// Set up logging for this process. `role` prefixes every line.
pub fn init(role: &str, foreground: bool, verbose: bool) {
    let (filter, handle) = reload::Layer::new(level_of(verbose));
    let format = LineFormat {
        role: role.to_string(),
    };
    let writer = if foreground {
        BoxMakeWriter::new(io::stderr)
    } else {
        match Syslog::connect() {
            Some(s) => BoxMakeWriter::new(s),
            None => BoxMakeWriter::new(io::stderr),
        }
    };
    let result = tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(format)
                .with_writer(writer),
        )
        .try_init();
    // Initialising twice (tests that run several roles in one process) keeps
    // the first subscriber, which is what we want.
    if result.is_ok() {
        let _ = LEVEL.set(handle);
    }
}

/// `smtpctl log verbose` (debug lines too) or `log brief`.
pub fn set_verbose(verbose: bool) {
    if let Some(handle) = LEVEL.get() {
        if let Err(e) = handle.reload(level_of(verbose)) {
            tracing::warn!("changing the log level: {e}");
        }
    }
}

/// For the inbox enums' `Message::applied_on_arrival`: apply a
/// `Verbose(v)` order; always true (the order is consumed).
pub fn apply_verbose(verbose: bool) -> bool {
    set_verbose(verbose);
    true
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
