//! Raising this process's descriptor limit: the hostile-client tests hold
//! thousands of sockets, and the server started afterwards inherits the
//! raised limit too.

#![allow(dead_code)]

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Raise RLIMIT_NOFILE's soft limit to `want` (and the hard one too when
/// we may); returns the soft limit now in force.
pub fn raise_nofile(want: u64) -> u64 {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 0;
    };
    if soft >= want {
        return soft;
    }
    let new_hard = hard.max(want);
    if setrlimit(Resource::RLIMIT_NOFILE, want, new_hard).is_err() {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, want.min(hard), hard);
    }
    getrlimit(Resource::RLIMIT_NOFILE)
        .map(|(s, _)| s)
        .unwrap_or(soft)
}
