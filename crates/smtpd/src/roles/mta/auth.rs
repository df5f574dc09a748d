//! AUTH towards a smarthost (RFC 4954): PLAIN, else LOGIN; only over TLS,
//! so a password never crosses the network in clear.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use smtpd_proto::{Capabilities, Command};

use super::session::COMMAND;
use super::wire::Wire;
use crate::msg::to_mta::RelayCredentials;

pub async fn login(
    wire: &mut Wire,
    caps: &Capabilities,
    creds: &RelayCredentials,
) -> Result<(), String> {
    if !wire.is_tls() {
        return Err("refusing to authenticate over a plaintext connection".into());
    }
    let offered = |m: &str| caps.auth.iter().any(|a| a == m);
    let fail = |e: super::wire::WireError| format!("AUTH: {e}");
    let reply = if offered("PLAIN") {
        let token = format!("\0{}\0{}", creds.username, creds.password);
        let cmd = Command::Auth {
            mechanism: "PLAIN".into(),
            initial_response: Some(B64.encode(token)),
        };
        wire.command(&cmd, COMMAND, "after AUTH")
            .await
            .map_err(fail)?
    } else if offered("LOGIN") {
        let cmd = Command::Auth {
            mechanism: "LOGIN".into(),
            initial_response: None,
        };
        let mut r = wire
            .command(&cmd, COMMAND, "after AUTH")
            .await
            .map_err(fail)?;
        for secret in [&creds.username, &creds.password] {
            if r.code != 334 {
                break;
            }
            let line = format!("{}\r\n", B64.encode(secret));
            wire.send(line.as_bytes(), COMMAND, "sending credentials")
                .await
                .map_err(fail)?;
            r = wire
                .reply(COMMAND, "after the credentials")
                .await
                .map_err(fail)?;
        }
        r
    } else {
        return Err(format!(
            "no supported AUTH mechanism offered ({})",
            caps.auth.join(" ")
        ));
    };
    if reply.code == 235 {
        Ok(())
    } else {
        Err(format!("authentication failed: {reply}"))
    }
}
