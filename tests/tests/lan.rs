//! Hosting for the LAN, finding calls on it, and joining other servers,
//! with real app instances under Xvfb, real sockets, real mDNS (on the
//! loopback interface, multicast switched on by the test and restored) and
//! real Chromium for the call itself (this WebKitGTK has no WebRTC, so both
//! apps carry the call to the system browser, as they tell the user).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use fantoccini::Locator;
use futures_util::{SinkExt, StreamExt};
use peercall_e2e::{
    attr, click, media_flowing, opened_url, recording_browser, screenshot, settings_dir,
    signaling_welcome, temp_dir, type_into, wait_for, wait_for_observed, wait_until, with_browsers,
    without_native_engine, App, AppOptions, SignalServer,
};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// The address the host's LAN listener binds: another loopback address, so
/// "reachable on the LAN" is tested apart from the embedded 127.0.0.1 one.
const HOST_IP: &str = "127.0.0.2";
const TEST_LIMIT: Duration = Duration::from_secs(240);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Multicast on `lo` for as long as it lives (mDNS needs it; Linux leaves
/// it off on loopback). Restores what it found.
struct LoopbackMulticast {
    was_on: bool,
}

impl LoopbackMulticast {
    fn enable() -> Result<Self> {
        let shown = Command::new("ip")
            .args(["-o", "link", "show", "lo"])
            .output()
            .context("running `ip` (iproute2)")?;
        let was_on = String::from_utf8_lossy(&shown.stdout).contains("MULTICAST");
        if !was_on {
            let status = Command::new("ip")
                .args(["link", "set", "lo", "multicast", "on"])
                .status()?;
            ensure!(
                status.success(),
                "`ip link set lo multicast on` failed (needs root)"
            );
        }
        Ok(Self { was_on })
    }
}

impl Drop for LoopbackMulticast {
    fn drop(&mut self) {
        if !self.was_on {
            let _ = Command::new("ip")
                .args(["link", "set", "lo", "multicast", "off"])
                .status();
        }
    }
}

/// A settings directory whose display name is `name`.
fn named(name: &str) -> Result<PathBuf> {
    settings_dir(
        "lan-config",
        &json!({"version": 2, "display_name": name}).to_string(),
    )
}

/// Launches an app whose "system browser" records the URLs it is given.
/// The tests here take turns. Each starts two apps (some a browser too),
/// and all four at once on a 2-core machine once kept a window from
/// showing its home screen within the 30 s a test waits for it.
async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

async fn launch(
    name: &str,
    extra_env: &[(&str, &str)],
    args: Vec<String>,
) -> Result<(App, PathBuf)> {
    let (opened, mut env) = recording_browser()?;
    // Calls go to the system browser: no native engine.
    env.extend(without_native_engine());
    env.extend(
        extra_env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let app = App::launch(AppOptions {
        env,
        config_dir: Some(named(name)?),
        args,
        ..AppOptions::default()
    })
    .await?;
    // Home (server ready), or the join screen when opened by a link.
    wait_for(
        &app.client,
        "#server-status[data-state='ready'], #join-page",
    )
    .await?;
    Ok((app, opened))
}

/// Whether something accepts TCP connections at `addr`.
async fn listening(addr: SocketAddr) -> bool {
    tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr))
        .await
        .is_ok_and(|r| r.is_ok())
}

/// One app hosts on 127.0.0.2 with a password; another finds the call in
/// its LAN list (mDNS from another process), is refused with the wrong
/// password, joins with the right one, and both carry the call to the
/// browser, where each decodes the other's video and audio. Stopping
/// hosting ends the call for both, closes the LAN listener, and the call
/// leaves the other app's list.
#[tokio::test(flavor = "multi_thread")]
async fn host_found_on_the_lan_joined_and_stopped() -> Result<()> {
    let _turn = one_at_a_time().await;
    let _multicast = LoopbackMulticast::enable()?;
    let (host, host_opened) = launch("Hana", &[("PEERCALL_LAN_BIND", HOST_IP)], vec![]).await?;
    let (guest, guest_opened) = launch("Minho", &[], vec![]).await?;
    let (h, g) = (&host.client, &guest.client);

    // Host: one click from home, a password, then what to share.
    click(h, "#host-call").await?;
    type_into(h, "#host-password", "s3cret").await?;
    click(h, "#start-hosting").await?;
    let room = attr(h, "#hosting", "data-room").await?;
    let port: u16 = attr(h, "#hosting", "data-port").await?.parse()?;
    let invite = attr(h, "#hosting", "data-invite").await?;
    ensure!(
        invite == format!("peercall://{HOST_IP}:{port}/{room}"),
        "invite link {invite}"
    );
    ensure!(
        attr(h, "#invite-qr", "data-text").await? == invite,
        "the QR code encodes the invite link"
    );
    let addresses = wait_for(h, "#hosting-addresses").await?.text().await?;
    ensure!(
        addresses.contains(&format!("{HOST_IP}:{port}")),
        "addresses shown: {addresses}"
    );
    wait_for(h, "#hosting-locked").await?;
    let lan_addr: SocketAddr = format!("{HOST_IP}:{port}").parse()?;
    let welcome = signaling_welcome(&format!("ws://{lan_addr}/")).await?;
    ensure!(
        welcome["type"] == "join",
        "LAN listener answers: {welcome:?}"
    );
    host.capture_screen("app-hosting")?;

    // Guest: the call shows up in the LAN list.
    click(g, "#find-calls").await?;
    let item = format!(".lan-call[data-room='{room}']");
    let listed = wait_for(g, &item)
        .await
        .context("the hosted call never appeared in the other app's LAN list")?
        .text()
        .await?;
    ensure!(listed.contains("Hana"), "the list names the host: {listed}");
    guest.capture_screen("app-join-lan")?;

    // Wrong password, then the right one.
    click(g, &format!("{item} .lan-call-main")).await?;
    type_into(g, "#lan-password", "guess").await?;
    click(g, "#lan-password-join").await?;
    wait_for(g, "#join-error[data-kind='wrong_password']").await?;
    type_into(g, "#lan-password", "s3cret").await?;
    click(g, "#lan-password-join").await?;
    let guest_url = opened_url(&guest_opened, 0).await?;
    ensure!(
        guest_url.contains(&format!("room={room}"))
            && guest_url.contains(&format!("server=ws%3A%2F%2F{HOST_IP}%3A{port}%2F")),
        "guest's browser page: {guest_url}"
    );

    // Host joins their own call.
    click(h, "#enter-hosted-call").await?;
    let host_url = opened_url(&host_opened, 0).await?;
    wait_for(h, "#browser-outcome[data-state='opened']").await?;

    let host_client = h.clone();
    with_browsers(2, TEST_LIMIT, move |browsers| {
        Box::pin(async move {
            let h = &host_client;
            let (a, b) = (&browsers[0].client, &browsers[1].client);
            a.goto(&host_url).await?;
            b.goto(&guest_url).await?;
            for (client, name) in [(a, "Hana"), (b, "Minho")] {
                wait_for(client, "#call[data-phase='joined']").await?;
                wait_for_observed(
                    client,
                    &format!("{name} to decode the other's video and audio"),
                    CONNECT_TIMEOUT,
                    |s| media_flowing(s, 1),
                )
                .await?;
            }
            screenshot(b, "lan-call-guest").await?;

            // The host screen counts who is in the call.
            wait_until(
                h,
                "the host screen to count both people",
                "document.querySelector('#hosting-present')?.dataset.count === '2'",
            )
            .await?;

            // Leaving the host screen and coming back keeps the hosting (and
            // its password: the count still works).
            click(h, "#host-back").await?;
            click(h, "#host-call").await?;
            wait_until(
                h,
                "the host screen, reopened, to count both people",
                "document.querySelector('#hosting-present')?.dataset.count === '2'",
            )
            .await?;

            // Stop hosting: both are told the call ended.
            click(h, "#stop-hosting").await?;
            wait_for(h, "#host-form").await?;
            for client in [a, b] {
                wait_for(client, "#call-ended[data-reason='host_ended']").await?;
            }
            screenshot(b, "lan-call-host-ended").await?;
            Ok(())
        })
    })
    .await?;

    ensure!(
        !listening(lan_addr).await,
        "the LAN listener still accepts connections after hosting stopped"
    );
    // The embedded loopback server is untouched.
    ensure!(
        listening(format!("127.0.0.1:{}", host.preferred_port).parse()?).await,
        "stopping hosting must not stop the embedded server"
    );
    let started = Instant::now();
    wait_until(
        g,
        "the stopped call to leave the LAN list",
        &format!("document.querySelector(\"{item}\") === null"),
    )
    .await?;
    println!(
        "the stopped call left the list after {:?}",
        started.elapsed()
    );
    guest.quit().await?;
    host.quit().await
}

/// A server that greets with another protocol version (a future Peercall).
async fn future_server() -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let welcome = json!({"type": "join", "id": "x", "version": 999, "ice_servers": []});
                let _ = ws.send(Message::text(welcome.to_string())).await;
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
    Ok((addr, task))
}

/// A WebSocket client that joins `room` (with `password`) and stays.
async fn member(ws_url: &str, room: &str, password: Option<&str>) -> Result<Member> {
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await?;
    let _welcome = ws.next().await;
    let mut join = json!({"type": "join_room", "room": room, "name": "Member"});
    if let Some(password) = password {
        join["password"] = json!(password);
    }
    ws.send(Message::text(join.to_string())).await?;
    loop {
        let Some(Ok(Message::Text(text))) = ws.next().await else {
            bail!("no room_joined");
        };
        let value: Value = serde_json::from_str(&text)?;
        if value["type"] == "room_joined" {
            break;
        }
    }
    Ok(ws)
}

/// A joined member's connection; dropping it leaves.
type Member =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Each way joining another server can fail gets its own plain message in
/// the app; a server that works is remembered in recent servers.
#[tokio::test(flavor = "multi_thread")]
async fn each_join_failure_has_its_own_message() -> Result<()> {
    let _turn = one_at_a_time().await;
    // A certificate made here, which the app has no reason to trust.
    let certs = temp_dir("lan-tls");
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
    std::fs::write(certs.join("cert.pem"), certified.cert.pem())?;
    std::fs::write(certs.join("key.pem"), certified.key_pair.serialize_pem())?;
    let cert = certs.join("cert.pem").display().to_string();
    let key = certs.join("key.pem").display().to_string();
    let tls = SignalServer::start(&["--tls-cert", &cert, "--tls-key", &key]).await?;
    let strict = SignalServer::start(&["--strict-loopback-origins"]).await?;
    let small = SignalServer::start(&["--room-capacity", "1"]).await?;
    let _full = member(&small.ws_url, "busy-room", None).await?;
    let _locked = member(&small.ws_url, "locked-room", Some("right")).await?;
    let (future, future_task) = future_server().await?;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?
    };

    let (app, opened) = launch("Jisoo", &[], vec![]).await?;
    let client = &app.client;
    click(client, "#find-calls").await?;

    let cases: Vec<(String, &str, &str, &str)> = vec![
        ("http://example.com".into(), "x", "", "invalid_address"),
        (format!("ws://{closed}/"), "team", "", "unreachable"),
        (format!("wss://localhost:{}/", tls.port), "team", "", "tls"),
        (strict.ws_url.clone(), "team", "", "origin_refused"),
        (small.ws_url.clone(), "busy-room", "", "room_full"),
        (
            small.ws_url.clone(),
            "locked-room",
            "wrong",
            "wrong_password",
        ),
        (format!("ws://{future}/"), "team", "", "version_mismatch"),
        (small.ws_url.clone(), "", "", "room_missing"),
    ];
    let mut messages = Vec::new();
    for (address, room, password, kind) in &cases {
        type_into(client, "#join-address", address).await?;
        type_into(client, "#join-room", room).await?;
        type_into(client, "#join-password", password).await?;
        click(client, "#join-submit").await?;
        let error = wait_for(client, &format!("#join-error[data-kind='{kind}']"))
            .await
            .with_context(|| format!("{address} should fail with {kind}"))?;
        let text = error.text().await?;
        ensure!(!text.is_empty(), "{kind}: no message");
        messages.push(text);
    }
    app.capture_screen("app-join-error")?;
    let mut distinct = messages.clone();
    distinct.sort();
    distinct.dedup();
    ensure!(
        distinct.len() == messages.len(),
        "every failure needs its own message: {messages:#?}"
    );

    // The right password gets in, and the server is remembered.
    type_into(client, "#join-address", &small.ws_url).await?;
    type_into(client, "#join-room", "locked-room").await?;
    type_into(client, "#join-password", "right").await?;
    // The room is full (capacity 1) for a real join, but the pre-join check
    // with the right password tells "full" apart from "wrong password".
    click(client, "#join-submit").await?;
    wait_for(client, "#join-error[data-kind='room_full']").await?;
    let open = SignalServer::start(&[]).await?;
    type_into(
        client,
        "#join-address",
        &format!("{}?room=team-room", open.ws_url),
    )
    .await?;
    type_into(client, "#join-room", "").await?;
    type_into(client, "#join-password", "").await?;
    click(client, "#join-submit").await?;
    let url = opened_url(&opened, 0).await?;
    ensure!(url.contains("room=team-room"), "opened {url}");
    wait_for(client, "#recent-servers").await?;
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(
        app.config_dir.join("settings.json"),
    )?)?;
    ensure!(
        stored["recent_servers"][0] == open.ws_url.as_str(),
        "recent servers on disk: {}",
        stored["recent_servers"]
    );
    future_task.abort();
    app.quit().await
}

/// An invite link the app is started with (as a clicked `peercall://` link
/// starts it) opens the join screen on that call and goes straight in.
#[tokio::test(flavor = "multi_thread")]
async fn an_invite_link_opens_the_app_in_that_call() -> Result<()> {
    let _turn = one_at_a_time().await;
    let server = SignalServer::start(&[]).await?;
    let invite = format!("peercall://127.0.0.1:{}/linked-room", server.port);
    let (app, opened) = launch("Dana", &[], vec![invite.clone()]).await?;
    wait_for(&app.client, "#join-page").await?;
    let url = opened_url(&opened, 0).await?;
    let expected = format!("server=ws%3A%2F%2F127.0.0.1%3A{}%2F", server.port);
    ensure!(
        url.contains("room=linked-room") && url.contains(&expected),
        "opened {url}"
    );
    let shown: String = app
        .client
        .find(Locator::Css("#join-address"))
        .await?
        .prop("value")
        .await?
        .unwrap_or_default();
    ensure!(shown == invite, "the join screen shows the link: {shown}");
    app.quit().await
}

/// An mDNS browse of Peercall calls, as another computer on the LAN sees
/// them (loopback included, where the tests host).
fn browse() -> Result<(
    mdns_sd::ServiceDaemon,
    mdns_sd::Receiver<mdns_sd::ServiceEvent>,
)> {
    let daemon = mdns_sd::ServiceDaemon::new()?;
    daemon.enable_interface(mdns_sd::IfKind::LoopbackV4)?;
    let events = daemon.browse("_peercall._tcp.local.")?;
    Ok((daemon, events))
}

/// Waits for an mDNS event `matches` accepts, for at most `limit`.
async fn mdns_event(
    events: &mdns_sd::Receiver<mdns_sd::ServiceEvent>,
    limit: Duration,
    matches: impl Fn(&mdns_sd::ServiceEvent) -> bool,
) -> Result<mdns_sd::ServiceEvent> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        ensure!(!left.is_zero(), "no such mDNS event within {limit:?}");
        if let Ok(Ok(event)) = tokio::time::timeout(left, events.recv_async()).await {
            if matches(&event) {
                return Ok(event);
            }
        }
    }
}

/// The host's app is told to quit by the OS (SIGTERM, as at logout or
/// shutdown) while hosting: it ends the way closing the window does — the
/// people in the call are told the host ended it (and get a proper close,
/// not a dropped connection), and the advertisement is withdrawn at once
/// (mDNS goodbye), not left to expire minutes later. Meanwhile another
/// app's "Find calls" lists only calls whose server answers: an
/// advertisement with no server behind it shows up only once a server
/// listens there.
#[tokio::test(flavor = "multi_thread")]
async fn an_app_told_to_quit_while_hosting_ends_the_call_cleanly() -> Result<()> {
    let _turn = one_at_a_time().await;
    const HOST: &str = "127.0.0.3";
    let _multicast = LoopbackMulticast::enable()?;
    let (mdns, events) = browse()?;

    // An advertisement for a server that isn't there (a host that lost
    // power without saying goodbye).
    let ghost_port = peercall_e2e::free_port();
    let ghost = mdns_sd::ServiceInfo::new(
        "_peercall._tcp.local.",
        "Ghost ghost-call",
        "ghost.local.",
        "127.0.0.4",
        ghost_port,
        &[
            ("host", "Ghost"),
            ("room", "ghost-call"),
            ("password", "0"),
            ("version", "1"),
        ][..],
    )?;
    mdns.register(ghost)?;

    let (host, _) = launch("Hana", &[("PEERCALL_LAN_BIND", HOST)], vec![]).await?;
    let (guest, _) = launch("Minho", &[], vec![]).await?;
    let (h, g) = (&host.client, &guest.client);
    click(h, "#host-call").await?;
    click(h, "#start-hosting").await?;
    let room = attr(h, "#hosting", "data-room").await?;
    let port: u16 = attr(h, "#hosting", "data-port").await?.parse()?;
    let hosted = mdns_event(&events, Duration::from_secs(20), |e| {
        matches!(e, mdns_sd::ServiceEvent::ServiceResolved(info)
            if info.get_property_val_str("room") == Some(room.as_str()))
    })
    .await
    .context("the hosted call was never advertised")?;
    let mdns_sd::ServiceEvent::ServiceResolved(hosted) = hosted else {
        unreachable!()
    };
    let fullname = hosted.get_fullname().to_owned();
    let mut member = member(&format!("ws://{HOST}:{port}/"), &room, None).await?;

    // The guest lists the real call, not the ghost…
    click(g, "#find-calls").await?;
    wait_for(g, &format!(".lan-call[data-room='{room}']")).await?;
    tokio::time::sleep(Duration::from_secs(4)).await;
    ensure!(
        g.find(Locator::Css(".lan-call[data-room='ghost-call']"))
            .await
            .is_err(),
        "a call whose server doesn't answer is listed"
    );
    // …until a server answers where the ghost says it is.
    let ghost_server = tokio::net::TcpListener::bind(("127.0.0.4", ghost_port)).await?;
    wait_for(g, ".lan-call[data-room='ghost-call']")
        .await
        .context("the advertised call never showed once its server answered")?;
    drop(ghost_server);

    // The OS asks the host's app to quit.
    let pid = host.pid()?;
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    ensure!(status.success(), "kill -TERM {pid} failed");
    let started = Instant::now();
    let mut told = None;
    let mut closed = None;
    while let Ok(Some(message)) = tokio::time::timeout(Duration::from_secs(10), member.next()).await
    {
        match message? {
            Message::Text(text) => {
                let value: Value = serde_json::from_str(&text)?;
                if value["type"] == "shutdown" {
                    told = Some(value);
                }
            }
            Message::Close(frame) => {
                closed = Some(frame);
                break;
            }
            _ => {}
        }
    }
    let told = told.context("the member was never told the call ended")?;
    ensure!(
        told["call_ended"] == true,
        "the member was told {told}, not that the call ended"
    );
    ensure!(
        closed.is_some(),
        "the connection dropped without a close frame"
    );
    mdns_event(
        &events,
        Duration::from_secs(10),
        |e| matches!(e, mdns_sd::ServiceEvent::ServiceRemoved(_, name) if *name == fullname),
    )
    .await
    .context("the advertisement was not withdrawn")?;
    println!(
        "told, closed and withdrawn {:?} after SIGTERM",
        started.elapsed()
    );
    wait_until(
        g,
        "the call to leave the guest's list",
        &format!("!document.querySelector(\".lan-call[data-room='{room}']\")"),
    )
    .await?;
    let _ = mdns.shutdown();
    guest.quit().await?;
    drop(host);
    Ok(())
}
