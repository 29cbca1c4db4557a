//! Hosting a call for the LAN, and finding calls hosted on it.
//!
//! The embedded server listens on loopback only. Hosting adds a second
//! listener of the same server code on the LAN (all interfaces), opens the
//! host's room there, and advertises it over mDNS/DNS-SD as
//! `_peercall._tcp`. Stopping closes that listener, telling everyone in the
//! call it is over, and withdraws the advertisement (mDNS goodbye), so
//! joiners' lists drop it within seconds.
//!
//! Discovery browses `_peercall._tcp` for as long as the app runs and keeps
//! the live list the join screen shows, leaving out calls whose server does
//! not answer (a host that vanished without its goodbye).

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent, ServiceInfo};
use peercall_signal::address::invite_link;
use peercall_signal::protocol::{validate_room_name, PROTOCOL_VERSION};
use peercall_signal::server;
pub use peercall_signal::shell::{HostingInfo, LanCall};

use crate::embedded::{bind_preferring, ServerTask};
use crate::AppError;

/// The DNS-SD service type Peercall calls are advertised under.
pub const SERVICE_TYPE: &str = "_peercall._tcp.local.";

/// Environment variable naming the address the LAN listener binds instead
/// of all interfaces (tests host on 127.0.0.2).
pub const LAN_BIND_ENV: &str = "PEERCALL_LAN_BIND";

struct Hosting {
    info: HostingInfo,
    server: ServerTask,
    advertisement: Option<(ServiceDaemon, String)>,
}

/// How long a listed call's server may take to accept a connection before
/// the call is left out of the list.
const PROBE_TIMEOUT: Duration = Duration::from_millis(800);
/// How long a probe's answer is trusted (the join screen asks every second).
const PROBE_FRESH: Duration = Duration::from_secs(3);

/// Hosting and discovery, managed as Tauri state.
#[derive(Default)]
pub struct Lan {
    hosting: tokio::sync::Mutex<Option<Hosting>>,
    discovery: Mutex<Option<Discovery>>,
    /// Whether each listed call's server answered lately.
    reachable: Mutex<HashMap<SocketAddr, (Instant, bool)>>,
}

impl Lan {
    /// Starts hosting `room` (with an optional password) on a LAN listener,
    /// preferring `preferred_port`, listed under `host_name` (the host's
    /// display name; the computer's name without one); answers what
    /// joiners need to know.
    pub async fn start_hosting(
        &self,
        room: String,
        password: Option<String>,
        preferred_port: u16,
        host_name: Option<String>,
    ) -> Result<HostingInfo, AppError> {
        validate_room_name(&room).map_err(|e| AppError::InvalidRoom(e.to_string()))?;
        let password = password.filter(|p| !p.is_empty());
        let mut hosting = self.hosting.lock().await;
        if let Some(current) = hosting.as_ref() {
            if current.info.room == room {
                return Ok(current.info.clone());
            }
        }
        if let Some(previous) = hosting.take() {
            previous.stop().await;
        }

        let bind_ip = lan_bind_address();
        let listener = bind_preferring(bind_ip, preferred_port)
            .await
            .map_err(AppError::HostingStart)?;
        let port = listener
            .local_addr()
            .map_err(AppError::HostingStart)?
            .port();
        let config = server::Config {
            // Stopping hosting ends the call for everyone in it.
            shutdown_ends_calls: true,
            // This listener serves the host's call and nothing else.
            hosted_room: Some(server::HostedRoom {
                name: room.clone(),
                password: password.clone(),
            }),
            ..server::Config::default()
        };
        let server = ServerTask::spawn(listener, config, "LAN listener");

        let addresses = reachable_addresses(bind_ip);
        let machine = machine_name();
        let host_name = host_name.unwrap_or_else(|| machine.clone());
        let password_required = password.is_some();
        let advertisement = advertise(
            &machine,
            &host_name,
            &room,
            password_required,
            bind_ip,
            port,
        )
        .map_err(
            |error| tracing::warn!(%error, "mDNS advertisement failed; invite links still work"),
        )
        .ok();
        let info = HostingInfo {
            invite_links: addresses
                .iter()
                .map(|a| invite_link(a, port, &room))
                .collect(),
            addresses,
            // Listening everywhere, loopback reaches it.
            local_ws_url: server::ws_url(SocketAddr::new(bind_ip, port), false),
            password_required,
            password,
            host_name,
            advertised: advertisement.is_some(),
            room,
            port,
        };
        tracing::info!(port, room = %info.room, addresses = ?info.addresses, "hosting on the LAN");
        *hosting = Some(Hosting {
            info: info.clone(),
            server,
            advertisement,
        });
        Ok(info)
    }

    /// What is being hosted, if anything.
    pub async fn hosting(&self) -> Option<HostingInfo> {
        self.hosting.lock().await.as_ref().map(|h| h.info.clone())
    }

    /// Stops hosting: withdraws the advertisement, tells everyone the call is
    /// over and closes the LAN listener.
    pub async fn stop_hosting(&self) {
        if let Some(hosting) = self.hosting.lock().await.take() {
            hosting.stop().await;
        }
    }

    /// The calls currently advertised on the LAN, except our own.
    pub async fn calls(&self) -> Result<Vec<LanCall>, AppError> {
        let own = self.hosting.lock().await.as_ref().and_then(|h| {
            h.advertisement
                .as_ref()
                .map(|(_, fullname)| fullname.clone())
        });
        let calls: Vec<(LanCall, SocketAddr)> = self
            .discovered()?
            .into_iter()
            .filter(|(call, _)| Some(&call.id) != own.as_ref())
            .collect();
        // A host that died without its mDNS goodbye (power cut, SIGKILL)
        // stays advertised for minutes: list only calls whose server
        // answers.
        let mut probes = tokio::task::JoinSet::new();
        for (index, (_, addr)) in calls.iter().enumerate() {
            match self.known_reachability(addr) {
                Some(answered) => {
                    probes.spawn(async move { (index, answered) });
                }
                None => {
                    let addr = *addr;
                    probes.spawn(async move {
                        let connect = tokio::net::TcpStream::connect(addr);
                        let answered = matches!(
                            tokio::time::timeout(PROBE_TIMEOUT, connect).await,
                            Ok(Ok(_))
                        );
                        (index, answered)
                    });
                }
            }
        }
        let mut answered = vec![false; calls.len()];
        while let Some(Ok((index, ok))) = probes.join_next().await {
            answered[index] = ok;
        }
        let mut reachable = self.reachable.lock().expect("reachable lock");
        reachable.retain(|_, (at, _)| at.elapsed() < PROBE_FRESH);
        let now = Instant::now();
        Ok(calls
            .into_iter()
            .zip(answered)
            .filter_map(|((call, addr), ok)| {
                reachable.entry(addr).or_insert((now, ok));
                ok.then_some(call)
            })
            .collect())
    }

    /// Everything discovery has seen, starting it on first use.
    fn discovered(&self) -> Result<Vec<(LanCall, SocketAddr)>, AppError> {
        let mut discovery = self.discovery.lock().expect("discovery lock");
        if discovery.is_none() {
            *discovery = Some(Discovery::start().map_err(|e| AppError::Discovery(e.to_string()))?);
        }
        Ok(discovery.as_ref().expect("just started").calls())
    }

    /// Whether `addr` answered a probe lately (`None`: probe it).
    fn known_reachability(&self, addr: &SocketAddr) -> Option<bool> {
        let reachable = self.reachable.lock().expect("reachable lock");
        reachable
            .get(addr)
            .filter(|(at, _)| at.elapsed() < PROBE_FRESH)
            .map(|(_, answered)| *answered)
    }
}

impl Hosting {
    async fn stop(self) {
        if let Some((daemon, fullname)) = self.advertisement {
            // Goodbye packets first, so lists drop the call at once.
            if let Ok(done) = daemon.unregister(&fullname) {
                let sent = done.recv_async();
                let _ = tokio::time::timeout(std::time::Duration::from_secs(2), sent).await;
            }
            let _ = daemon.shutdown();
        }
        self.server.stop().await;
        tracing::info!(room = %self.info.room, "stopped hosting");
    }
}

fn lan_bind_address() -> IpAddr {
    std::env::var(LAN_BIND_ENV)
        .ok()
        .and_then(|a| a.parse().ok())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// The IPv4 addresses joiners can reach: the bound one, or every
/// non-loopback interface's (private LAN ranges first).
fn reachable_addresses(bind_ip: IpAddr) -> Vec<String> {
    if !bind_ip.is_unspecified() {
        return vec![bind_ip.to_string()];
    }
    let mut addresses: Vec<Ipv4Addr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| !i.is_loopback())
        .filter_map(|i| match i.ip() {
            IpAddr::V4(v4) if !v4.is_link_local() => Some(v4),
            _ => None,
        })
        .collect();
    addresses.sort_by_key(|a| (!a.is_private(), *a));
    addresses.dedup();
    addresses.iter().map(Ipv4Addr::to_string).collect()
}

fn machine_name() -> String {
    let name = gethostname::gethostname().to_string_lossy().into_owned();
    let name = name.split('.').next().unwrap_or("").trim().to_owned();
    if name.is_empty() {
        "Peercall".to_owned()
    } else {
        name
    }
}

/// DNS labels allow letters, digits and `-`.
fn dns_label(text: &str) -> String {
    let label: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    if label.trim_matches('-').is_empty() {
        "peercall".to_owned()
    } else {
        label
    }
}

/// An mDNS daemon; `loopback` adds the loopback interface, off by default
/// in mdns-sd. A call hosted on a loopback address is only reachable there;
/// discovery also looks there, which finds calls hosted on this machine.
fn daemon(loopback: bool) -> Result<ServiceDaemon, mdns_sd::Error> {
    let daemon = ServiceDaemon::new()?;
    if loopback {
        daemon.enable_interface(IfKind::LoopbackV4)?;
    }
    Ok(daemon)
}

fn advertise(
    machine: &str,
    host_name: &str,
    room: &str,
    password_required: bool,
    bind_ip: IpAddr,
    port: u16,
) -> Result<(ServiceDaemon, String), mdns_sd::Error> {
    let daemon = daemon(bind_ip.is_loopback())?;
    let instance = format!("{} {}", dns_label(machine), dns_label(room));
    let mdns_host = format!("{}.local.", dns_label(machine));
    let version = PROTOCOL_VERSION.to_string();
    let properties = [
        ("host", host_name),
        ("room", room),
        ("password", if password_required { "1" } else { "0" }),
        ("version", version.as_str()),
    ];
    // Listening everywhere: mdns-sd fills in each interface's addresses.
    let everywhere = bind_ip.is_unspecified();
    let addresses: &[IpAddr] = if everywhere {
        &[]
    } else {
        std::slice::from_ref(&bind_ip)
    };
    let info = ServiceInfo::new(
        SERVICE_TYPE,
        &instance,
        &mdns_host,
        addresses,
        port,
        &properties[..],
    )?;
    let info = if everywhere {
        info.enable_addr_auto()
    } else {
        info
    };
    let fullname = info.get_fullname().to_owned();
    daemon.register(info)?;
    Ok((daemon, fullname))
}

/// A running browse of `_peercall._tcp`: each call, with the address its
/// server listens on.
struct Discovery {
    daemon: ServiceDaemon,
    calls: Arc<Mutex<BTreeMap<String, (LanCall, SocketAddr)>>>,
}

impl Discovery {
    fn start() -> Result<Self, mdns_sd::Error> {
        let daemon = daemon(true)?;
        let events = daemon.browse(SERVICE_TYPE)?;
        let calls = Arc::new(Mutex::new(BTreeMap::new()));
        let seen = calls.clone();
        std::thread::Builder::new()
            .name("mdns-browse".into())
            .spawn(move || {
                while let Ok(event) = events.recv() {
                    let mut calls = seen.lock().expect("calls lock");
                    match event {
                        ServiceEvent::ServiceResolved(info) => {
                            if let Some((call, addr)) = lan_call(&info) {
                                calls.insert(call.id.clone(), (call, addr));
                            }
                        }
                        ServiceEvent::ServiceRemoved(_, fullname) => {
                            calls.remove(&fullname);
                        }
                        _ => {}
                    }
                }
            })
            .map_err(|e| mdns_sd::Error::Msg(e.to_string()))?;
        Ok(Self { daemon, calls })
    }

    fn calls(&self) -> Vec<(LanCall, SocketAddr)> {
        self.calls
            .lock()
            .expect("calls lock")
            .values()
            .cloned()
            .collect()
    }
}

impl Drop for Discovery {
    fn drop(&mut self) {
        let _ = self.daemon.shutdown();
    }
}

/// A resolved advertisement as the join screen shows it, and where its
/// server listens; `None` when it lacks what a call needs.
fn lan_call(info: &ServiceInfo) -> Option<(LanCall, SocketAddr)> {
    let room = info.get_property_val_str("room")?.to_owned();
    validate_room_name(&room).ok()?;
    let version: u32 = info.get_property_val_str("version")?.parse().ok()?;
    let port = info.get_port();
    let mut addresses: Vec<&Ipv4Addr> = info.get_addresses_v4().into_iter().collect();
    addresses.sort_by_key(|a| (!a.is_private(), **a));
    let ip = **addresses.first()?;
    let address = ip.to_string();
    let call = LanCall {
        id: info.get_fullname().to_owned(),
        host_name: info
            .get_property_val_str("host")
            .unwrap_or(info.get_hostname())
            .to_owned(),
        password_required: info.get_property_val_str("password") == Some("1"),
        compatible: version == PROTOCOL_VERSION,
        version,
        ws_url: format!("ws://{address}:{port}/"),
        invite_link: invite_link(&address, port, &room),
        room,
    };
    Some((call, SocketAddr::from((ip, port))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels_are_safe() {
        assert_eq!(dns_label("Jisoo's MacBook"), "Jisoo-s-MacBook");
        assert_eq!(dns_label("회의"), "peercall");
    }

    #[test]
    fn a_bound_address_is_the_one_offered() {
        let ip: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(reachable_addresses(ip), vec!["127.0.0.2".to_owned()]);
    }
}
