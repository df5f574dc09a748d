//! Walking every table and filter reference of a configuration in one fixed
//! order (listeners, actions, rules, filters). The order matters: generated
//! names are assigned in it, so they do not depend on statement order.

use super::{Cond, Config, FilterCond, FilterKind, LocalDelivery, Mapping, Method, Service, Span};

/// Where a table is used; decides the service and shape it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UseSite {
    Alias,
    Virtual,
    Userbase,
    RelayHost,
    RelayDomain,
    RelaySrc,
    HeloSrc,
    RelayAuth,
    ListenerAuth,
    Hostnames,
    Senders,
    FromSrc,
    FromRdns,
    Auth,
    Mailaddr,
    ForDomain,
    Helo,
    Tag,
    Filter(FilterSite),
}

/// Table uses inside builtin filters (never type-checked by OpenSMTPD).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FilterSite {
    Rdns,
    Src,
    Helo,
    Auth,
    Mailaddr,
}

/// What kind of static table a use accepts: OpenSMTPD's T_LIST / T_HASH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    List,
    Hash,
    Any,
}

impl UseSite {
    pub(crate) fn service(self, regex: bool) -> Service {
        use UseSite::*;
        if regex {
            return Service::Regex;
        }
        match self {
            Alias | Virtual => Service::Alias,
            Userbase => Service::Userinfo,
            RelayHost | RelayDomain => Service::Relayhost,
            RelaySrc => Service::Source,
            HeloSrc | Hostnames => Service::Addrname,
            RelayAuth | ListenerAuth => Service::Credentials,
            Senders => Service::Mailaddrmap,
            FromSrc | Filter(FilterSite::Src) => Service::Netaddr,
            FromRdns | ForDomain | Helo | Filter(FilterSite::Rdns | FilterSite::Helo) => {
                Service::Domain
            }
            Auth | Tag | Filter(FilterSite::Auth) => Service::String,
            Mailaddr | Filter(FilterSite::Mailaddr) => Service::Mailaddr,
        }
    }

    pub(crate) fn shape(self) -> Shape {
        use UseSite::*;
        match self {
            Alias | Virtual | Userbase | RelayDomain | HeloSrc | RelayAuth | Hostnames
            | Senders => Shape::Hash,
            RelayHost | RelaySrc | FromSrc | FromRdns | Auth | Mailaddr | ForDomain | Helo
            | Tag => Shape::List,
            ListenerAuth | Filter(_) => Shape::Any,
        }
    }

    /// The word OpenSMTPD uses in "may not be used for … lookups".
    pub(crate) fn describe(self) -> &'static str {
        use UseSite::*;
        match self {
            Alias => "alias",
            Virtual => "virtual",
            Userbase => "userbase",
            RelayHost => "host",
            RelayDomain => "domain",
            RelaySrc => "source",
            HeloSrc => "helo-src",
            RelayAuth | ListenerAuth | Auth | Filter(FilterSite::Auth) => "auth",
            Hostnames => "hostnames",
            Senders => "senders",
            FromSrc | Filter(FilterSite::Src) => "src",
            FromRdns | Filter(FilterSite::Rdns) => "rdns",
            Mailaddr | Filter(FilterSite::Mailaddr) => "address",
            ForDomain => "domain",
            Helo | Filter(FilterSite::Helo) => "helo",
            Tag => "tag",
        }
    }
}

/// `& $m x` is `&mut x` or `&x`: one walk for both mutability.
macro_rules! walk_tables {
    ($cfg:expr, $f:expr, $($m:ident)?) => {{
        let cfg = $cfg;
        let f = $f;
        for l in & $($m)? cfg.listeners {
            if let Some(a) = & $($m)? l.auth {
                if let Some(t) = & $($m)? a.table {
                    f(t, UseSite::ListenerAuth, false, &l.span);
                }
            }
            if let Some(s) = & $($m)? l.senders {
                f(& $($m)? s.table, UseSite::Senders, false, &l.span);
            }
            if let Some(t) = & $($m)? l.hostnames {
                f(t, UseSite::Hostnames, false, &l.span);
            }
        }
        for a in & $($m)? cfg.actions {
            match & $($m)? a.method {
                Method::Local(LocalDelivery { mapping, userbase, .. }) => {
                    match mapping {
                        Some(Mapping::Alias(t)) => f(t, UseSite::Alias, false, &a.span),
                        Some(Mapping::Virtual(t)) => f(t, UseSite::Virtual, false, &a.span),
                        None => {}
                    }
                    if let Some(t) = userbase {
                        f(t, UseSite::Userbase, false, &a.span);
                    }
                }
                Method::Relay(r) => {
                    let sites = [
                        (& $($m)? r.host, UseSite::RelayHost),
                        (& $($m)? r.domain, UseSite::RelayDomain),
                        (& $($m)? r.helo_src, UseSite::HeloSrc),
                        (& $($m)? r.src, UseSite::RelaySrc),
                        (& $($m)? r.auth, UseSite::RelayAuth),
                    ];
                    for (slot, site) in sites {
                        if let Some(t) = slot {
                            f(t, site, false, &a.span);
                        }
                    }
                }
            }
        }
        for r in & $($m)? cfg.rules {
            for c in & $($m)? r.conditions {
                let site = match &c.cond {
                    Cond::FromSrc { .. } => UseSite::FromSrc,
                    Cond::FromRdns(_) => UseSite::FromRdns,
                    Cond::FromAuth(_) | Cond::Auth(_) => UseSite::Auth,
                    Cond::FromMailFrom(_) | Cond::ForRcptTo(_) | Cond::MailFrom(_)
                    | Cond::RcptTo(_) => UseSite::Mailaddr,
                    Cond::ForDomain(_) => UseSite::ForDomain,
                    Cond::Helo(_) => UseSite::Helo,
                    Cond::Tag(_) => UseSite::Tag,
                    _ => continue,
                };
                let o = match & $($m)? c.cond {
                    Cond::FromSrc { operand, .. } => operand,
                    Cond::FromAuth(Some(o)) | Cond::FromRdns(Some(o)) | Cond::Auth(Some(o))
                    | Cond::FromMailFrom(o) | Cond::ForDomain(o) | Cond::ForRcptTo(o)
                    | Cond::Helo(o) | Cond::MailFrom(o) | Cond::RcptTo(o) | Cond::Tag(o) => o,
                    _ => continue,
                };
                f(& $($m)? o.table, site, o.regex, &c.span);
            }
        }
        for flt in & $($m)? cfg.filters {
            if let FilterKind::Builtin { conditions, .. } = & $($m)? flt.kind {
                for c in conditions {
                    let (o, site) = match & $($m)? c.cond {
                        FilterCond::Rdns(Some(o)) => (o, FilterSite::Rdns),
                        FilterCond::Src(o) => (o, FilterSite::Src),
                        FilterCond::Helo(o) => (o, FilterSite::Helo),
                        FilterCond::Auth(Some(o)) => (o, FilterSite::Auth),
                        FilterCond::MailFrom(o) | FilterCond::RcptTo(o) => (o, FilterSite::Mailaddr),
                        _ => continue,
                    };
                    f(& $($m)? o.table, UseSite::Filter(site), o.regex, &flt.span);
                }
            }
        }
    }};
}

pub(crate) fn for_each_table_ref(cfg: &Config, f: &mut dyn FnMut(&String, UseSite, bool, &Span)) {
    walk_tables!(cfg, f,)
}

pub(crate) fn for_each_table_ref_mut(
    cfg: &mut Config,
    f: &mut dyn FnMut(&mut String, UseSite, bool, &Span),
) {
    walk_tables!(cfg, f, mut)
}

/// Every filter reference (listener, relay action, chain member), in the
/// same fixed order.
pub(crate) fn for_each_filter_ref_mut(cfg: &mut Config, f: &mut dyn FnMut(&mut String)) {
    for l in &mut cfg.listeners {
        if let Some(n) = &mut l.filter {
            f(n);
        }
    }
    for a in &mut cfg.actions {
        if let Method::Relay(r) = &mut a.method {
            if let Some(n) = &mut r.filter {
                f(n);
            }
        }
    }
    for flt in &mut cfg.filters {
        if let FilterKind::Chain { filters } = &mut flt.kind {
            filters.iter_mut().for_each(&mut *f);
        }
    }
}
