//! Every size limit of the protocol layer, in one place, with the reason
//! for its value.

/// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including the
/// CRLF. Kept for reference and for clients that want to stay within it.
pub const RFC_COMMAND_LINE: usize = 512;

/// The longest command line we accept, terminator included. Longer than
/// the RFC's 512 because MAIL FROM with SIZE, BODY, RET, ENVID (100), AUTH
/// and a 256-octet path, or an AUTH line with a long initial response,
/// legitimately exceeds 512; 4096 is Stalwart's and several clients'
/// choice. A longer line gets `500 5.5.2 Line too long` and is discarded
/// without being buffered.
pub const MAX_COMMAND_LINE: usize = 4096;

/// How many bytes a [`crate::CommandBuffer`] holds at most by default:
/// room for a full-size command line plus several pipelined ones. The
/// buffer refuses more input until lines are taken out, so a client that
/// floods us costs at most this much memory per session.
pub const COMMAND_BUFFER_CAPACITY: usize = 4 * MAX_COMMAND_LINE;

/// RFC 5321 §4.5.3.1.1: a local part is at most 64 octets.
pub const MAX_LOCAL_PART: usize = 64;

/// RFC 5321 §4.5.3.1.2: a domain is at most 255 octets.
pub const MAX_DOMAIN: usize = 255;

/// RFC 1035 §2.3.4: a domain label is at most 63 octets.
pub const MAX_LABEL: usize = 63;

/// RFC 5321 §4.5.3.1.3: a path is at most 256 octets, brackets and source
/// route included.
pub const MAX_PATH: usize = 256;

/// RFC 3461 §4.4: ENVID is at most 100 characters (as sent, in xtext).
pub const MAX_ENVID: usize = 100;

/// RFC 3461 §4.2: ORCPT is at most 500 characters (as sent).
pub const MAX_ORCPT: usize = 500;

/// Longest text line in a message body we accept, not counting its line
/// end. RFC 5322 makes 998 a sender's MUST and RFC 5321 a SHOULD, but real
/// mail (HTML from some generators, base64 without wrapping) exceeds it;
/// 64 KiB accepts all of that while keeping a line a bounded thing for
/// later header and MIME processing. Longer lines are never truncated: the
/// message is refused at the end of data.
pub const MAX_TEXT_LINE: usize = 64 * 1024;

/// OpenSMTPD's default `smtp max-message-size` (35M): 35 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 35 * 1024 * 1024;

/// A message carrying this many `Received:` headers or more is looping
/// (OpenSMTPD's MAX_HOPS_COUNT, and RFC 5321 §6.3's "100 hops").
pub const MAX_RECEIVED_HEADERS: u32 = 100;

/// The largest reply the client side accepts, all lines together. An EHLO
/// reply is a few hundred bytes; 64 KiB leaves room for chatty servers
/// while bounding what a hostile one can make us hold.
pub const MAX_REPLY_SIZE: usize = 64 * 1024;

/// Longest single reply line the client side accepts (RFC 5321: 512).
pub const MAX_REPLY_LINE: usize = 4096;
