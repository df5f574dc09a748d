//! Running a parsed command against the daemon.

use smtpd_control_proto::{client::unexpected, Client, Request, Response};

use crate::cli::Place;
use crate::error::{connect_error, CtlError};
use crate::parser::Command;
use crate::{encrypt, monitor, show, text};

pub fn run(place: &Place, cmd: Command) -> Result<(), CtlError> {
    match cmd {
        Command::ShowQueue(msgid) => show::queue(place, msgid),
        Command::ShowEnvelope(evpid) => show::envelope(place, evpid),
        Command::ShowMessage(msgid) => show::message(place, msgid),
        Command::ShowStats => show::stats(place),
        Command::ShowStatus => show::status(place),
        Command::Pause(s) => succeeded(place, Request::Pause(s)),
        Command::Resume(s) => succeeded(place, Request::Resume(s)),
        Command::PauseEnvelope(t) => counted(place, Request::PauseEnvelopes(t), "paused"),
        Command::ResumeEnvelope(t) => counted(place, Request::ResumeEnvelopes(t), "resumed"),
        Command::Schedule(t) => counted(place, Request::Schedule(t), "scheduled"),
        Command::Remove(t) => counted(place, Request::Remove(t), "removed"),
        Command::Monitor { count } => monitor::run(place, count),
        Command::Log { verbose } => {
            expect_ok(place, Request::Log { verbose })?;
            text::say("logging request sent.")
        }
        Command::Encrypt(s) => encrypt::run(s.as_deref()),
        Command::UpdateTable(name) => succeeded(place, Request::UpdateTable(name)),
        Command::ShowMta(view) => match connect(place)?.request(&Request::ShowMta(view))?.0 {
            Response::Lines(lines) => lines.iter().try_for_each(|l| text::say(l)),
            other => Err(failure(other, "Lines")),
        },
        Command::Trace { subsystem, on } => succeeded(
            place,
            Request::Trace {
                subsystem: subsystem.to_string(),
                on,
            },
        ),
        Command::Unsupported(name) => Err(CtlError::Unsupported(name)),
    }
}

/// Connect to the daemon's control socket.
pub fn connect(place: &Place) -> Result<Client, CtlError> {
    Client::connect(&place.socket).map_err(connect_error)
}

/// A response that reports a failure, or one of the wrong kind.
pub fn failure(resp: Response, wanted: &'static str) -> CtlError {
    match resp {
        Response::Failed(why) => CtlError::Failed(why),
        other => CtlError::Client(unexpected(&other, wanted)),
    }
}

fn expect_ok(place: &Place, req: Request) -> Result<(), CtlError> {
    match connect(place)?.request(&req)?.0 {
        Response::Ok => Ok(()),
        other => Err(failure(other, "Ok")),
    }
}

/// `pause|resume mda|mta|smtp`: OpenSMTPD's "command succeeded".
fn succeeded(place: &Place, req: Request) -> Result<(), CtlError> {
    expect_ok(place, req)?;
    text::say("command succeeded")
}

/// `schedule`, `remove`, `pause|resume envelope`: `N envelope(s) VERB`.
fn counted(place: &Place, req: Request, verb: &str) -> Result<(), CtlError> {
    match connect(place)?.request(&req)?.0 {
        Response::Count(n) => text::say(&format!("{} {verb}", text::envelopes(n))),
        other => Err(failure(other, "Count")),
    }
}
