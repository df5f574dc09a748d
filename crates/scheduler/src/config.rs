//! The scheduler's settings: OpenSMTPD's `limit scheduler` knobs and the
//! `bounce warn-interval` delays.

/// `limit scheduler max-inflight N max-evp-batch-size N …`, with
/// OpenSMTPD's defaults. The meaning of each follows OpenSMTPD's
/// `scheduler.c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// At most this many envelopes are out for delivery at once; above it,
    /// [`Scheduler::batch`](crate::Scheduler::batch) hands out no more work
    /// (expiries still flow).
    pub max_inflight: usize,
    /// The most envelope states one listing page returns
    /// ([`Scheduler::envelopes`](crate::Scheduler::envelopes), for
    /// `smtpctl show queue`).
    pub max_evp_batch_size: usize,
    /// The most message ids one listing page returns
    /// ([`Scheduler::messages`](crate::Scheduler::messages)).
    pub max_msg_batch_size: usize,
    /// The most envelopes one call to
    /// [`Scheduler::batch`](crate::Scheduler::batch) hands out, across all
    /// kinds; the caller calls again until a batch comes back empty.
    pub max_schedule: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_inflight: 5000,
            max_evp_batch_size: 256,
            max_msg_batch_size: 1024,
            max_schedule: 10,
        }
    }
}

/// Everything the scheduler is told by the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub limits: Limits,
    /// `bounce warn-interval`: after how long (seconds since creation) a
    /// delayed envelope earns a "delayed" report. OpenSMTPD: 4 h, at most
    /// four values.
    pub delay_warnings: Vec<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::default(),
            delay_warnings: vec![4 * 3600],
        }
    }
}
