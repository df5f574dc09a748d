//! The well-behaved client of the hostile-client tests: it comes from
//! another loopback address (127.0.0.2), must get its banner within a
//! second and its mail through while the attack goes on.

#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use crate::maildirs;
use crate::source_addr::{client_from, OUTSIDE};

/// The promise: a banner within a second.
pub const BANNER_WITHIN: Duration = Duration::from_secs(1);

/// Connect from 127.0.0.2, time the banner, send one message to
/// `good@local.test` and return (banner latency, marker of the message).
pub fn transact(port: u16, tag: &str) -> (Duration, String) {
    let t0 = Instant::now();
    let mut c = client_from(OUTSIDE, port);
    c.set_timeout(Duration::from_secs(30));
    let banner = c.reply();
    let latency = t0.elapsed();
    assert_eq!(banner.code, 220, "good client banner: {banner:?}");
    let r = c.cmd("EHLO good.test");
    assert_eq!(r.code, 250, "good client EHLO: {r:?}");
    let marker = format!("good-client-{tag}-{}", std::process::id());
    let r = c.send_mail(
        "good@client.test",
        &["good@local.test"],
        &format!("Subject: {marker}\n\n{marker}\n"),
    );
    assert_eq!(r.code, 250, "good client's mail: {r:?}");
    c.cmd("QUIT");
    (latency, marker)
}

/// Three good transactions during an attack: the median banner latency
/// must be within a second (the median, so that one scheduling hiccup of
/// a loaded CI machine does not decide), and all three mails delivered.
pub fn check(port: u16, maildir_root: &Path, tag: &str) {
    let mut lat = Vec::new();
    let mut markers = Vec::new();
    for i in 0..3 {
        let (l, m) = transact(port, &format!("{tag}-{i}"));
        lat.push(l);
        markers.push(m);
    }
    lat.sort();
    assert!(
        lat[1] <= BANNER_WITHIN,
        "{tag}: good client's banner took {:?} (all: {lat:?})",
        lat[1]
    );
    for m in markers {
        let got = maildirs::wait_for(maildir_root, Duration::from_secs(30), |msg| {
            maildirs::contains(msg, m.as_bytes())
        });
        assert_eq!(got.as_deref(), Some("good"), "{tag}: {m} not delivered");
    }
}
