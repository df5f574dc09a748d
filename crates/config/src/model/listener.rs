//! Listeners (`listen on …`) and TLS material (`pki`, `ca`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::Span;

/// What a listener listens on. Names are resolved by
/// [`crate::iface::resolve_listener`] (interfaces, groups, host names).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ListenOn {
    /// `listen on socket`: the local enqueue socket.
    Socket,
    /// `localhost`: the loopback addresses 127.0.0.1 and ::1.
    Localhost,
    /// `all` / `any`: every address of every interface.
    All,
    /// An IPv4 or IPv6 address literal.
    Addr(IpAddr),
    /// An interface (`eth0`; `lo0` is the loopback interface), an interface
    /// group (`egress`: the interfaces holding a default route) or a host
    /// name.
    Name(String),
}

/// Address family restriction (`inet4` / `inet6`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Family {
    Inet4,
    Inet6,
}

/// The TLS mode of a listener. (The old `secure`/`ssl` option, "STARTTLS on
/// 25 and SMTPS on 465", is lowered into two listeners.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ListenerTls {
    /// No TLS.
    Plain,
    /// STARTTLS offered (`tls`); `required` = `tls-require` (no MAIL before
    /// STARTTLS); `verify` = a client certificate is required.
    StartTls { required: bool, verify: bool },
    /// Implicit TLS (`smtps`); `verify` = a client certificate is required.
    Smtps { verify: bool },
}

impl ListenerTls {
    pub fn is_tls(self) -> bool {
        !matches!(self, ListenerTls::Plain)
    }
}

/// `auth [<creds>]` / `auth-optional [<creds>]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerAuth {
    /// `auth` (AUTH required before MAIL) rather than `auth-optional`.
    pub required: bool,
    /// Credentials table; `None` = system passwords.
    pub table: Option<String>,
}

/// `senders <mailaddrmap> [masquerade]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Senders {
    pub table: String,
    pub masquerade: bool,
}

/// One `listen on` statement (the old `secure` option yields two).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listener {
    pub on: ListenOn,
    pub family: Option<Family>,
    /// The port; the default (25, or 465 for `smtps`) is filled in. Unused
    /// for [`ListenOn::Socket`] (0).
    pub port: u16,
    pub tls: ListenerTls,
    /// Certificates offered (chosen by SNI when several). Empty on a TLS
    /// listener: the certificate is looked up by the listener's hostname,
    /// as the old releases did. The old `certificate NAME` lands here.
    pub pki: Vec<String>,
    /// CA for client-certificate verification.
    pub ca: Option<String>,
    pub auth: Option<ListenerAuth>,
    pub senders: Option<Senders>,
    pub tag: Option<String>,
    /// Banner/EHLO name; `None` = the server name.
    pub hostname: Option<String>,
    /// `hostnames <addrname>`: a name per local address.
    pub hostnames: Option<String>,
    /// `mask-src` (old `mask-source`): no `from` clause in Received:.
    pub mask_src: bool,
    pub received_auth: bool,
    pub no_dsn: bool,
    pub proxy_v2: bool,
    /// Filter or filter chain applied to sessions (by name).
    pub filter: Option<String>,
    pub protocols: Option<String>,
    pub ciphers: Option<String>,
    pub span: Span,
}

impl Listener {
    /// A listener with every option at its default.
    pub fn new(on: ListenOn, span: Span) -> Self {
        Listener {
            on,
            family: None,
            port: 25,
            tls: ListenerTls::Plain,
            pki: Vec::new(),
            ca: None,
            auth: None,
            senders: None,
            tag: None,
            hostname: None,
            hostnames: None,
            mask_src: false,
            received_auth: false,
            no_dsn: false,
            proxy_v2: false,
            filter: None,
            protocols: None,
            ciphers: None,
            span,
        }
    }

    /// The implicit local enqueue socket listener OpenSMTPD always has.
    pub fn default_socket() -> Self {
        let mut l = Listener::new(ListenOn::Socket, Span::default());
        l.port = 0;
        l
    }
}

/// `pki NAME cert|key|dhe …` (also the old `certificate`/`dhparams`); the
/// statements for one name merge. Names are lowercased, as OpenSMTPD does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pki {
    pub name: String,
    pub cert: Option<String>,
    pub key: Option<String>,
    pub dhe: Option<Dhe>,
    /// Old (5.4-5.9) `dhparams FILE`.
    pub dhparams: Option<String>,
    /// Old (5.4) `ca FILE`: CA certificates for this pki's client checks.
    pub ca_file: Option<String>,
    pub span: Span,
}

/// `dhe none|auto|legacy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dhe {
    None,
    Auto,
    Legacy,
}

/// `ca NAME cert FILE`. Names are lowercased.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ca {
    pub name: String,
    pub cert: Option<String>,
    pub span: Span,
}
