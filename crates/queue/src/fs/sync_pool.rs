//! The threads a commit's syncs run on, started once and kept.
//!
//! A batch's fsyncs are issued together so the file system folds them into
//! a few journal commits (see [`super::commit`]). Spawning those threads for
//! every batch cost ~3 thread creations per message (clone3, stack mmap,
//! guard page, signal stack, ...: a sixth of the queue's system calls).
//! Here they are started when the queue opens and wait on one job channel.
//!
//! Written by hand rather than with rayon: the jobs are blocking system
//! calls, not CPU work, and rayon's idle workers spin before they sleep,
//! which would burn the CPU this pool exists to save.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

/// The most syncs one batch has in flight at once.
pub(super) const SYNC_THREADS: usize = 16;

type Task = Box<dyn FnOnce() + Send>;

/// A fixed set of threads running blocking jobs. Dropping the last handle
/// ends them once the jobs already given are done.
pub(super) struct SyncPool {
    jobs: Mutex<Sender<Task>>,
}

impl SyncPool {
    /// Start the threads. A thread that cannot be started only makes the
    /// pool smaller; with none at all, jobs run on the caller's thread.
    pub(super) fn start() -> Arc<Self> {
        let (tx, rx) = mpsc::channel::<Task>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..SYNC_THREADS {
            let rx = Arc::clone(&rx);
            // Small stacks: a job is one system call and an error value.
            let _ = std::thread::Builder::new()
                .name(format!("queue-sync-{i}"))
                .stack_size(64 * 1024)
                .spawn(move || serve(&rx));
        }
        Arc::new(SyncPool {
            jobs: Mutex::new(tx),
        })
    }

    /// Run `f` on every item, up to [`SYNC_THREADS`] at once; the results
    /// come back in the order of the items. A job whose thread panicked is
    /// run again on the caller's thread, so every item gets a result.
    pub(super) fn run<T, R>(&self, items: &[T], f: fn(&T) -> R) -> Vec<R>
    where
        T: Clone + Send + 'static,
        R: Send + 'static,
    {
        if items.len() <= 1 {
            return items.iter().map(f).collect();
        }
        let (done_tx, done_rx) = mpsc::channel::<(usize, R)>();
        {
            let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
            for (i, item) in items.iter().cloned().enumerate() {
                let done = done_tx.clone();
                let task: Task = Box::new(move || {
                    let _ = done.send((i, f(&item)));
                });
                if let Err(mpsc::SendError(task)) = jobs.send(task) {
                    // No thread left to take it: run it here.
                    task();
                }
            }
        }
        drop(done_tx);
        let mut slots: Vec<Option<R>> = items.iter().map(|_| None).collect();
        for (i, r) in done_rx {
            slots[i] = Some(r);
        }
        slots
            .into_iter()
            .zip(items)
            .map(|(r, item)| r.unwrap_or_else(|| f(item)))
            .collect()
    }
}

fn serve(jobs: &Mutex<Receiver<Task>>) {
    loop {
        let task = {
            let rx = jobs.lock().unwrap_or_else(|p| p.into_inner());
            rx.recv()
        };
        match task {
            // A panicking job must not take the thread with it: its result
            // is simply missing, and the caller runs it again.
            Ok(task) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(task));
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_order() {
        let pool = SyncPool::start();
        let out = pool.run(&(0..100u32).collect::<Vec<_>>(), |x| x * 2);
        assert_eq!(out, (0..100u32).map(|x| x * 2).collect::<Vec<_>>());
    }

    #[test]
    fn jobs_run_concurrently() {
        // 8 jobs that each wait for all 8 to have started: they can only
        // finish if the pool runs them at the same time.
        use std::sync::Barrier;
        static BARRIER: std::sync::OnceLock<Barrier> = std::sync::OnceLock::new();
        BARRIER.get_or_init(|| Barrier::new(8));
        let pool = SyncPool::start();
        let out = pool.run(&(0..8).collect::<Vec<u8>>(), |_| {
            BARRIER.get().expect("set").wait();
            true
        });
        assert_eq!(out, vec![true; 8]);
    }
}
