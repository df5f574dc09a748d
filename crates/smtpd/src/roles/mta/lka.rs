//! The mta's questions to lka (DNS and relay tables), as async calls: each
//! request parks under a fresh id until the mta's inbox hands over the
//! reply (see `crate::pending`).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::msg::to_mta::{DnsAnswer, MxRecord, RelayCredentials};
use crate::msg::{ReqId, ToLka, ToMta};
use crate::peers::Peers;
use crate::pending::Pending;

/// How long an answer may take: lka bounds every DNS query itself (a few
/// seconds at most), so this only catches a stuck lka.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct LkaClient {
    peers: Peers,
    pending: Arc<Pending<ToMta>>,
}

impl LkaClient {
    pub fn new(peers: Peers, pending: Arc<Pending<ToMta>>) -> Self {
        LkaClient { peers, pending }
    }

    async fn ask(&self, make: impl FnOnce(ReqId) -> ToLka) -> Result<ToMta, String> {
        let (req, rx) = self.pending.register();
        if let Err(e) = self.peers.lka().send(make(req)) {
            self.pending.cancel(req);
            return Err(format!("lka: {e}"));
        }
        match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
            Ok(Ok((msg, _))) => Ok(msg),
            Ok(Err(_)) => Err("lka did not answer".into()),
            Err(_) => {
                self.pending.cancel(req);
                Err("lka did not answer in time".into())
            }
        }
    }

    pub async fn mx(&self, domain: &str) -> DnsAnswer<Vec<MxRecord>> {
        let domain = domain.to_string();
        match self.ask(|req| ToLka::Mx { req, domain }).await {
            Ok(ToMta::Mx { result, .. }) => result,
            Ok(other) => DnsAnswer::Failed(format!("unexpected answer {other:?}")),
            Err(e) => DnsAnswer::Failed(e),
        }
    }

    pub async fn host(&self, name: &str) -> DnsAnswer<Vec<IpAddr>> {
        let name = name.to_string();
        match self.ask(|req| ToLka::Host { req, name }).await {
            Ok(ToMta::Host { result, .. }) => result,
            Ok(other) => DnsAnswer::Failed(format!("unexpected answer {other:?}")),
            Err(e) => DnsAnswer::Failed(e),
        }
    }

    pub async fn relay_host(
        &self,
        table: &str,
        domain: Option<&str>,
    ) -> Result<Option<String>, String> {
        let (table, domain) = (table.to_string(), domain.map(str::to_string));
        match self
            .ask(|req| ToLka::RelayHost { req, table, domain })
            .await?
        {
            ToMta::RelayHost { result, .. } => result,
            other => Err(format!("unexpected answer {}", other_name(&other))),
        }
    }

    pub async fn credentials(
        &self,
        table: &str,
        label: &str,
    ) -> Result<Option<RelayCredentials>, String> {
        let (table, label) = (table.to_string(), label.to_string());
        match self
            .ask(|req| ToLka::Credentials { req, table, label })
            .await?
        {
            ToMta::Credentials { result, .. } => result,
            other => Err(format!("unexpected answer {}", other_name(&other))),
        }
    }

    pub async fn helo_name(&self, table: &str, addr: IpAddr) -> Result<Option<String>, String> {
        let table = table.to_string();
        match self.ask(|req| ToLka::HeloName { req, table, addr }).await? {
            ToMta::HeloName { result, .. } => result,
            other => Err(format!("unexpected answer {}", other_name(&other))),
        }
    }

    pub async fn source(&self, table: &str) -> Result<Option<IpAddr>, String> {
        let table = table.to_string();
        match self.ask(|req| ToLka::Source { req, table }).await? {
            ToMta::Source { result, .. } => result,
            other => Err(format!("unexpected answer {}", other_name(&other))),
        }
    }
}

fn other_name(m: &ToMta) -> &'static str {
    smtpd_ipc::Message::name(m)
}
