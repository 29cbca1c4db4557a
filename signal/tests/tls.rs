//! `wss://` and `https://` on the signaling port, with a certificate
//! generated in the test and a client that trusts it.
#![cfg(all(feature = "server", feature = "tls"))]

mod common;

use std::sync::Arc;

use common::{connect_ws, http_exchange, Embedded, TempDir, TestServer, STEP};
use futures_util::{SinkExt, StreamExt};
use peercall_signal::server::{self, Config};
use rustls::pki_types::ServerName;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

/// A self-signed certificate for `localhost` and a client that trusts it.
fn tls_pair() -> (
    Arc<rustls::ServerConfig>,
    tokio_rustls::TlsConnector,
    String,
    String,
) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_pem = certified.cert.pem();
    let key_pem = certified.key_pair.serialize_pem();
    let server_config =
        server::tls_config_from_pem(cert_pem.as_bytes(), key_pem.as_bytes()).unwrap();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
    (server_config, connector, cert_pem, key_pem)
}

async fn tls_stream(
    connector: &tokio_rustls::TlsConnector,
    addr: std::net::SocketAddr,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    timeout(STEP, connector.connect(name, tcp))
        .await
        .unwrap()
        .expect("TLS handshake with the trusted certificate")
}

async fn next_json<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match timeout(STEP, ws.next()).await.unwrap() {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
            Some(Ok(Message::Ping(_))) => continue,
            other => panic!("expected text, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn wss_and_https_with_a_generated_certificate() {
    let (tls, connector, cert_pem, key_pem) = tls_pair();
    // Loading from PEM files gives the same result as from memory.
    let dir = TempDir::new("tls");
    let (cert_path, key_path) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
    std::fs::write(&cert_path, &cert_pem).unwrap();
    std::fs::write(&key_path, &key_pem).unwrap();
    server::load_tls_config(&cert_path, &key_path).expect("PEM files load");
    assert!(
        server::load_tls_config(&key_path, &key_path).is_err(),
        "a key is no certificate"
    );

    let server = TestServer::start(Config {
        tls: Some(tls),
        static_files: Some(Arc::new(Embedded)),
        ..Config::default()
    })
    .await;
    let port = server.addr.port();
    let url = format!("wss://localhost:{port}/");

    let stream = tls_stream(&connector, server.addr).await;
    let (mut a, _) = tokio_tungstenite::client_async(&url, stream).await.unwrap();
    let stream = tls_stream(&connector, server.addr).await;
    let (mut b, _) = tokio_tungstenite::client_async(&url, stream).await.unwrap();
    let welcome_a = next_json(&mut a).await;
    let welcome_b = next_json(&mut b).await;
    assert_eq!(welcome_a["type"], "join");
    let offer = json!({"type":"offer","to":welcome_b["id"],"offer":{"sdp":"secure"}});
    a.send(Message::text(offer.to_string())).await.unwrap();
    let got = next_json(&mut b).await;
    assert_eq!(got["from"], welcome_a["id"]);
    assert_eq!(got["offer"]["sdp"], "secure");

    // https on the same port.
    let stream = tls_stream(&connector, server.addr).await;
    let request = format!("GET / HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n");
    let (status, _, body) = http_exchange(stream, &request).await;
    assert_eq!(status, 200);
    assert_eq!(body, b"embedded");

    // A plaintext client gets nowhere, and the server carries on.
    assert!(connect_ws(&server.url(), None).await.is_err());
    a.send(Message::text(
        json!({"type":"candidate","to":welcome_b["id"],"candidate":{}}).to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(next_json(&mut b).await["type"], "candidate");
}
