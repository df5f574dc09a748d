//! Sans-IO SMTP: bytes in, typed values out. No sockets, no async, no
//! clock, so every part can be fuzzed and tested on byte strings.
//!
//! Server side:
//! - [`CommandBuffer`]: bounded command-line framing with PIPELINING.
//! - [`parse_command`] → [`Command`] (HELO, EHLO, MAIL, RCPT, DATA, BDAT,
//!   RSET, NOOP, HELP, QUIT, VRFY, EXPN, STARTTLS, AUTH), with RFC 5321
//!   paths ([`path`]) and ESMTP parameters ([`MailParams`], [`RcptParams`]).
//! - [`DataReceiver`] and [`BdatReceiver`]: message content, streamed out
//!   LF-normalised, with the anti-smuggling end-of-data rule and limits.
//! - [`Reply`] and [`Capabilities::ehlo_reply`]; every error knows its
//!   reply (the table is in [`codes`]).
//!
//! Client side (relay, LMTP, bounce injection):
//! - [`ReplyParser`] → [`Reply`], [`Capabilities::from_ehlo_reply`].
//! - [`Command::to_wire`] and [`WireEncoder`] (dot-stuffing, CRLF).
//!
//! The session state machine and every policy decision (who may relay,
//! which limits apply, what to do with NUL or 8-bit content) live in the
//! daemon; this crate only says what the bytes mean.
//!
//! # Why not smtp-proto
//!
//! The workspace lists Stalwart's `smtp-proto` 0.2.5 and it was evaluated
//! first. It is a good parser for Stalwart's needs, but each of our strict
//! requirements fails on it somewhere, so every module here is our own; the
//! module docs say what in particular. In short: its DATA receiver passes
//! bare CR/LF through (the smuggling vector) and misses `.CRLF` right after
//! the 354; after a too-long command line it parses the rest of that line
//! as a new command; its errors carry no enhanced status and too little to
//! choose one; it unquotes local parts, admits 8-bit addresses without
//! SMTPUTF8, skips domain checks, and silently drops CRs; it applies no
//! size, line or loop limits; its reply parser stores enhanced codes in
//! `u8`s. It is kept as a dev-dependency: the interoperability tests check
//! that what we write (replies, commands, dot-stuffed content) is read the
//! same way by it, an independent implementation.

pub mod bdat;
pub mod client_commands;
pub mod codes;
pub mod command;
pub mod command_buffer;
pub mod content;
pub mod data;
pub mod ehlo;
pub mod error;
pub mod limits;
mod line_buffer;
pub mod params;
pub mod path;
pub mod reply;
pub mod reply_parser;
pub mod wire_encoder;

pub use bdat::{BdatReceiver, BdatStatus};
pub use codes::start_data;
pub use command::{parse_command, Command, MailFrom, ParseOptions, RcptTo};
pub use command_buffer::CommandBuffer;
pub use content::{ContentLimits, ContentStats};
pub use data::{DataReceiver, DataStatus};
pub use ehlo::Capabilities;
pub use error::{CommandError, ContentError, EncodeError, ReplyError};
pub use params::{xtext_decode, xtext_encode, Body, MailParams, Orcpt, RcptParams};
pub use path::{
    format_path, parse_forward_path, parse_mailbox, parse_reverse_path, PathError, Recipient,
};
pub use reply::Reply;
pub use reply_parser::ReplyParser;
pub use wire_encoder::{encode_for_bdat, encode_for_data, WireEncoder};

pub use smtpd_types::EnhancedStatus;
