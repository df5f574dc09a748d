//! The `getpwnam` backend: system users as a `userinfo` table, the default
//! `userbase`. Password checking is not this table's job (the privileged
//! parent does it), so it serves no `credentials`.

use crate::error::TableError;
use crate::ops;
use crate::service::{Service, ServiceSet};
use crate::table::{Table, TableKind};
use crate::value::{Userinfo, Value};
use nix::unistd::User;

const BACKEND: &str = "getpwnam";

fn services() -> ServiceSet {
    ServiceSet::of(&[Service::Userinfo])
}

/// The system password database, queried with getpwnam(3) through NSS.
#[derive(Debug)]
pub struct GetpwnamTable {
    name: String,
}

impl GetpwnamTable {
    pub fn new(name: &str) -> Self {
        GetpwnamTable {
            name: name.to_string(),
        }
    }

    fn user(&self, service: Service, key: &str) -> Result<Option<User>, TableError> {
        ops::require_service(&self.name, BACKEND, services(), service)?;
        let key = ops::normalize(&self.name, key)?;
        if key.is_empty() || key.contains('\0') {
            return Ok(None);
        }
        User::from_name(&key).map_err(|source| TableError::System {
            table: self.name.clone(),
            source,
        })
    }
}

impl Table for GetpwnamTable {
    fn name(&self) -> &str {
        &self.name
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn services(&self) -> ServiceSet {
        services()
    }

    fn kind(&self) -> TableKind {
        TableKind::Dynamic
    }

    fn lookup(&self, service: Service, key: &str) -> Result<Option<Value>, TableError> {
        Ok(self.user(service, key)?.map(|u| {
            Value::Userinfo(Userinfo {
                username: u.name,
                uid: u.uid.as_raw(),
                gid: u.gid.as_raw(),
                home: u.dir,
            })
        }))
    }

    fn check(&self, service: Service, key: &str) -> Result<bool, TableError> {
        Ok(self.user(service, key)?.is_some())
    }

    fn fetch(&self, service: Service) -> Result<Option<Value>, TableError> {
        ops::require_service(&self.name, BACKEND, services(), service)?;
        Err(TableError::UnsupportedOperation {
            table: self.name.clone(),
            operation: "fetch",
            service,
        })
    }

    fn update(&self) -> Result<(), TableError> {
        Ok(())
    }

    fn validate(&self, service: Service) -> Result<(), TableError> {
        ops::require_service(&self.name, BACKEND, services(), service)
    }
}
