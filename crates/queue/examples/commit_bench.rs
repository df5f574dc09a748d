//! Measure the fs backend's commit path: messages per second for a few
//! batch sizes and both sync modes. Not a test (timings are the machine's);
//! run it on the disk the spool will use:
//!
//! ```text
//! cargo run --release -p smtpd-queue --example commit_bench -- /var/spool/bench 2000
//! ```

use smtpd_queue::{FsOptions, FsQueue, QueueBackend, SyncMode};
use smtpd_types::{Envelope, EnvelopeKind, EvpId, MailAddr};
use std::io::Write;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let root = std::path::PathBuf::from(args.next().ok_or("usage: commit_bench DIR [MESSAGES]")?);
    let total: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1000);
    std::fs::create_dir_all(&root)?;
    let body = vec![b'x'; 4096];
    for sync in [SyncMode::Files, SyncMode::Filesystem] {
        for batch in [1usize, 8, 32] {
            let spool = root.join(format!("{sync:?}-{batch}"));
            let mut q = FsQueue::open(
                &spool,
                FsOptions {
                    sync,
                    ..FsOptions::default()
                },
            )?;
            // A queue in service has all its buckets; creating them is not
            // what we measure.
            for b in 0..=255u8 {
                std::fs::create_dir_all(spool.join("queue").join(format!("{b:02x}")))?;
            }
            let start = Instant::now();
            let mut done = 0;
            while done < total {
                let mut group = Vec::with_capacity(batch);
                for _ in 0..batch {
                    let msgid = q.create_message()?;
                    q.message_fd_w(msgid)?.write_all(&body)?;
                    let mut e = Envelope::new(
                        EvpId::random_in(msgid),
                        EnvelopeKind::Mda,
                        Some(MailAddr::new("a", "example.net")),
                        MailAddr::new("b", "example.org"),
                    );
                    e.sockaddr = "127.0.0.1".into();
                    group.push((msgid, vec![e]));
                }
                for r in q.commit_batch(group) {
                    r?;
                }
                done += batch;
            }
            let secs = start.elapsed().as_secs_f64();
            println!(
                "{sync:?} batch {batch:3}: {:8.0} msg/s ({:.3} ms/msg)",
                done as f64 / secs,
                secs * 1000.0 / done as f64
            );
            std::fs::remove_dir_all(&spool)?;
        }
    }
    Ok(())
}
