//! Global settings and limits, with OpenSMTPD's defaults.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Family, MdaWrapper, Span};

const DAY: u64 = 86_400;

/// `smtp …` (old: `max-message-size`, `limit session`, `ciphers`, `curve`,
/// `subaddressing-delimiter`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtpSettings {
    /// `max-message-size` in bytes (default 35M).
    pub max_message_size: u64,
    /// Recipients per transaction (default 1000).
    pub max_rcpt: u64,
    /// Messages per session (default 100).
    pub max_mails: u64,
    /// `sub-addr-delim` (default `+`).
    pub sub_addr_delim: char,
    /// Server TLS ciphers (`smtp ciphers`, old `ciphers`).
    pub ciphers: Option<String>,
    /// Old (5.7) `curve`.
    pub curve: Option<String>,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        SmtpSettings {
            max_message_size: 35 * 1024 * 1024,
            max_rcpt: 1000,
            max_mails: 100,
            sub_addr_delim: '+',
            ciphers: None,
            curve: None,
        }
    }
}

/// `queue …` (old: `expire`, `queue encryption key`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSettings {
    /// How long an envelope may stay queued (default 4d).
    pub ttl: Duration,
    pub compression: bool,
    pub encryption: Option<QueueEncryption>,
}

/// `queue encryption …` and where it was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEncryption {
    pub key: QueueKey,
    pub span: Span,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            ttl: Duration::from_secs(4 * DAY),
            compression: false,
            encryption: None,
        }
    }
}

/// Where the queue encryption key comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QueueKey {
    /// `queue encryption` with no key: asked for at start.
    Prompt,
    /// `stdin` or `-`: read from standard input.
    Stdin,
    /// The key itself (32 characters).
    Key(String),
}

/// `bounce warn-interval` (old `bounce-warn`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BounceSettings {
    /// Delays after which a "delayed" notice is sent (default 4h).
    pub warn_interval: Vec<Duration>,
}

impl Default for BounceSettings {
    fn default() -> Self {
        BounceSettings {
            warn_interval: vec![Duration::from_secs(4 * 3600)],
        }
    }
}

/// `srs key …`, `srs ttl …`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SrsSettings {
    pub key: Option<String>,
    pub key_backup: Option<String>,
    /// Validity of SRS addresses in days (default 4).
    pub ttl_days: u64,
}

impl Default for SrsSettings {
    fn default() -> Self {
        SrsSettings {
            key: None,
            key_backup: None,
            ttl_days: 4,
        }
    }
}

/// `mta …` (old: `max-mta-deferred`, `limit mta`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MtaSettings {
    /// Envelopes kept per suspended host (default 100).
    pub max_deferred: u64,
    /// `mta limit …` without `for domain`.
    pub limits: MtaLimits,
    /// `mta limit for domain D …`: each starts as a copy of [`Self::limits`]
    /// as they were when the domain first appeared, as OpenSMTPD does.
    pub domain_limits: Vec<DomainMtaLimits>,
}

impl Default for MtaSettings {
    fn default() -> Self {
        MtaSettings {
            max_deferred: 100,
            limits: MtaLimits::default(),
            domain_limits: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainMtaLimits {
    pub domain: String,
    pub limits: MtaLimits,
}

macro_rules! limit_struct {
    ($(#[$m:meta])* $name:ident { $($field:ident = $key:literal, $default:expr;)* }) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        pub struct $name {
            $(#[doc = concat!("`", $key, "` (default ", stringify!($default), ")")] pub $field: u64,)*
        }

        impl Default for $name {
            fn default() -> Self {
                $name { $($field: $default,)* }
            }
        }

        impl $name {
            /// Set the limit named `key` (its config keyword); `false` if
            /// there is no such limit.
            pub fn set(&mut self, key: &str, value: u64) -> bool {
                match key {
                    $($key => self.$field = value,)*
                    _ => return false,
                }
                true
            }

            /// Every limit as (keyword, value), in a fixed order.
            pub fn entries(&self) -> Vec<(&'static str, u64)> {
                vec![$(($key, self.$field),)*]
            }
        }
    };
}

limit_struct!(
    /// Numeric MTA limits (connections, delays in seconds, tasks).
    MtaCounts {
        max_conn_per_host = "max-conn-per-host", 10;
        max_conn_per_route = "max-conn-per-route", 5;
        max_conn_per_source = "max-conn-per-source", 100;
        max_conn_per_connector = "max-conn-per-connector", 20;
        max_conn_per_relay = "max-conn-per-relay", 100;
        max_conn_per_domain = "max-conn-per-domain", 100;
        conn_delay_host = "conn-delay-host", 0;
        conn_delay_route = "conn-delay-route", 5;
        conn_delay_source = "conn-delay-source", 0;
        conn_delay_connector = "conn-delay-connector", 0;
        conn_delay_relay = "conn-delay-relay", 2;
        conn_delay_domain = "conn-delay-domain", 0;
        reconn_delay_route = "reconn-delay-route", 3;
        session_mail_max = "session-mail-max", 100;
        session_transaction_delay = "session-transaction-delay", 0;
        session_keepalive = "session-keepalive", 10;
        max_failures_per_session = "max-failures-per-session", 25;
        task_hiwat = "task-hiwat", 50;
        task_lowat = "task-lowat", 30;
        task_release = "task-release", 10;
    }
);

/// MTA limits: counts plus an address-family restriction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MtaLimits {
    /// `inet4` / `inet6`: connect only over this family.
    pub family: Option<Family>,
    pub counts: MtaCounts,
}

limit_struct!(
    /// `mda limit …` (old `limit mda …`).
    MdaLimits {
        max_session = "max-session", 50;
        max_session_per_user = "max-session-per-user", 7;
        task_lowat = "task-lowat", 30;
        task_hiwat = "task-hiwat", 50;
        task_release = "task-release", 10;
    }
);

limit_struct!(
    /// `scheduler limit …` (old `limit scheduler …`).
    SchedulerLimits {
        max_inflight = "max-inflight", 5000;
        max_evp_batch_size = "max-evp-batch-size", 256;
        max_msg_batch_size = "max-msg-batch-size", 1024;
        max_schedule = "max-schedule", 10;
    }
);

/// `mda …`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MdaSettings {
    pub limits: MdaLimits,
    pub wrappers: Vec<MdaWrapper>,
}
