//! Memory of the server: PSS summed over its process tree, from
//! /proc/PID/smaps_rollup (PSS shares pages between the privilege-separated
//! processes fairly instead of counting shared pages once per process).

#![allow(dead_code)]

use crate::support::procs;

/// (PSS, RSS) in KiB of `root` and all its descendants.
pub fn tree_kib(root: u32) -> (u64, u64) {
    let mut pss = 0;
    let mut rss = 0;
    let mut pids = vec![root];
    pids.extend(procs::descendants(root));
    for p in pids {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")) else {
            continue;
        };
        for line in text.lines() {
            let mut it = line.split_whitespace();
            let key = it.next();
            let val: u64 = it.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            match key {
                Some("Pss:") => pss += val,
                Some("Rss:") => rss += val,
                _ => {}
            }
        }
    }
    (pss, rss)
}

/// Samples a server tree's PSS in the background and keeps the peak, so
/// that a test sees the memory an attack costs while it runs, not only
/// after the server has freed it.
pub struct PeakWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<u64>>,
}

impl PeakWatch {
    pub fn start(root: u32) -> PeakWatch {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut peak = 0;
            while !s2.load(Ordering::Relaxed) {
                peak = peak.max(tree_kib(root).0);
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            peak.max(tree_kib(root).0)
        });
        PeakWatch {
            stop,
            handle: Some(handle),
        }
    }

    /// Stop sampling; the peak PSS in KiB.
    pub fn peak(mut self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle.take().and_then(|h| h.join().ok()).unwrap_or(0)
    }
}
