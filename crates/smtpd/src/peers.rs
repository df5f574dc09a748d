//! A child's channels to its peers, typed by each peer's inbox.

use smtpd_ipc::{Role, Sender};
use std::collections::HashMap;

use crate::msg::{ToControl, ToLka, ToMda, ToMfa, ToMta, ToParent, ToQueue, ToScheduler, ToSmtp};

/// The sending halves of a process's channels. Asking for a peer the role
/// is not connected to gives a sender whose sends fail with `Closed`, so a
/// misuse shows up as an error at the first send, never as a panic.
#[derive(Clone)]
pub struct Peers {
    map: HashMap<Role, Sender<()>>,
}

impl Peers {
    pub fn new(map: HashMap<Role, Sender<()>>) -> Self {
        Peers { map }
    }

    fn get<M>(&self, role: Role) -> Sender<M> {
        match self.map.get(&role) {
            Some(s) => s.cast(),
            None => Sender::closed(role),
        }
    }

    pub fn parent(&self) -> Sender<ToParent> {
        self.get(Role::Parent)
    }
    pub fn smtp(&self) -> Sender<ToSmtp> {
        self.get(Role::Smtp)
    }
    pub fn mta(&self) -> Sender<ToMta> {
        self.get(Role::Mta)
    }
    pub fn mda(&self) -> Sender<ToMda> {
        self.get(Role::Mda)
    }
    pub fn lka(&self) -> Sender<ToLka> {
        self.get(Role::Lka)
    }
    pub fn mfa(&self) -> Sender<ToMfa> {
        self.get(Role::Mfa)
    }
    pub fn queue(&self) -> Sender<ToQueue> {
        self.get(Role::Queue)
    }
    pub fn scheduler(&self) -> Sender<ToScheduler> {
        self.get(Role::Scheduler)
    }
    pub fn control(&self) -> Sender<ToControl> {
        self.get(Role::Control)
    }
}
