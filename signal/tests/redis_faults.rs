//! Scale-out faults with a real `redis-server`: an instance killed, Redis
//! restarted under running instances, Redis down at start.
#![cfg(all(feature = "redis", feature = "cli"))]

mod common;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::redis::Redis;
use common::{binary, http_request, Client, TestServer, STEP};
use peercall_signal::server::Config;
use serde_json::{json, Value};
use tokio::time::{sleep, timeout};

/// The promise: a dead instance's members leave within this.
const DEAD_MEMBERS_LEAVE: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_killed_instances_members_leave_and_come_back_through_another() {
    let redis = Redis::start();
    let args = ["--bind", "127.0.0.1:0", "--redis", &redis.url()];
    let (_first, first_url) = binary::start(&args, &[]).await;
    let (mut second, second_url) = binary::start(&args, &[]).await;
    let mut a = Client::connect(&first_url).await;
    let mut b = Client::connect(&second_url).await;
    let mut caller = Client::connect(&first_url).await;
    let mut callee = Client::connect(&second_url).await;
    a.join("room", "A").await;
    b.join("room", "B").await;
    a.expect("peer_joined").await;
    caller.send(json!({"type":"call","to":callee.id()})).await;
    callee.expect("ring").await;
    callee.send(json!({"type":"accept","to":caller.id()})).await;
    caller.expect("accepted").await;

    second.0.kill().unwrap();
    second.0.wait().unwrap();
    let killed = Instant::now();
    let left = timeout(DEAD_MEMBERS_LEAVE, a.expect("peer_left"))
        .await
        .expect("the dead instance's member leaves in time");
    assert_eq!(left["id"], b.id());
    let hung_up = timeout(DEAD_MEMBERS_LEAVE, caller.expect("hung_up"))
        .await
        .expect("the dead instance's call partner hangs up in time");
    assert_eq!(hung_up["from"], callee.id());
    println!(
        "members of a killed instance left after {:?}",
        killed.elapsed()
    );

    // Its client reconnects, to the other instance, as after a restart.
    let mut b = Client::connect(&first_url).await;
    let joined = b.join("room", "B").await;
    assert_eq!(joined["members"], json!([{"id": a.id(), "name": "A"}]));
    a.expect("peer_joined").await;
    a.send(json!({"type":"offer","to":b.id(),"offer":{"sdp":"v=0"}}))
        .await;
    assert_eq!(b.expect("offer").await["from"], a.id());
}

async fn health(addr: SocketAddr) -> Value {
    let (status, _, body) = http_request(addr, "GET", "/healthz").await;
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

/// Waits (bounded) until `/healthz` reports Redis `state`.
async fn until_redis(addr: SocketAddr, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let health = health(addr).await;
        if health["redis"] == state {
            return;
        }
        assert!(Instant::now() < deadline, "redis never {state}: {health}");
        sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn instances_serve_alone_without_redis_and_resynchronise_when_it_is_back() {
    let mut redis = Redis::start();
    let config = Config {
        redis: Some(redis.url()),
        ..Config::default()
    };
    let first = TestServer::start(config.clone()).await;
    let second = TestServer::start(config).await;
    let mut a = first.client().await;
    let mut b = second.client().await;
    a.join("room", "A").await;
    b.join("room", "B").await;
    a.expect("peer_joined").await;

    redis.kill();
    until_redis(first.addr, "disconnected").await;
    until_redis(second.addr, "disconnected").await;
    // Local members are still served: a newcomer joins and negotiates.
    let mut c = first.client().await;
    let joined = c.join("room", "C").await;
    assert_eq!(joined["members"].as_array().unwrap().len(), 2, "{joined}");
    a.expect("peer_joined").await;
    c.send(json!({"type":"offer","to":a.id(),"offer":{"sdp":"v=0"}}))
        .await;
    assert_eq!(a.expect("offer").await["from"], c.id());

    redis.restart();
    until_redis(first.addr, "connected").await;
    until_redis(second.addr, "connected").await;
    // The other instance learns of the newcomer once the state is written
    // back, and relays cross again without restarting anything.
    let seen = b.expect("peer_joined").await;
    assert_eq!(seen["peer"]["id"], c.id());
    a.send(json!({"type":"offer","to":b.id(),"offer":{"sdp":"v=1"}}))
        .await;
    assert_eq!(b.expect("offer").await["from"], a.id());
    b.send(json!({"type":"answer","answer":{"sdp":"v=1"}}))
        .await;
    assert_eq!(a.expect("answer").await["from"], b.id());
    // And Redis holds the room again: a newcomer elsewhere sees everyone.
    let mut d = second.client().await;
    let joined = d.join("room", "D").await;
    assert_eq!(joined["members"].as_array().unwrap().len(), 3, "{joined}");
}

#[tokio::test]
async fn redis_down_at_start_is_a_clear_error() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}/", free.local_addr().unwrap());
    drop(free);
    let child = Command::new(env!("CARGO_BIN_EXE_peercall-signal"))
        .args(["--bind", "127.0.0.1:0", "--redis", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = timeout(
        STEP * 2,
        tokio::task::spawn_blocking(|| child.wait_with_output()),
    )
    .await
    .expect("it exits in time")
    .unwrap()
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Redis"), "{stderr}");
    assert!(output.stdout.is_empty(), "it never announced itself");
}
