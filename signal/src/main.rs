//! `peercall-signal`: the headless signaling server.
//!
//! Runs the same server the desktop app embeds, for a public host: TLS,
//! STUN/TURN hand-out, and optionally the built web UI on the same port.
//! Prints `listening on ws://ADDR/` (or `wss://`) once it accepts
//! connections, and stops gracefully on SIGINT/SIGTERM. Options come from
//! the command line and, with `--config FILE`, from a file of the same
//! options (what the Debian package's systemd unit uses).

use std::ffi::OsString;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::Parser;
use peercall_signal::server::{self, Config, DirFiles, StaticFiles, ThrottleLimits};
use tracing::{info, warn};
use tracing_subscriber::EnvFilter;

/// Peercall signaling server.
///
/// Relays WebRTC offers, answers and ICE candidates between peers in rooms
/// or direct calls over WebSocket, and optionally serves the web UI.
#[derive(Debug, Parser)]
///
/// Options may also come from a file (`--config FILE`): one long option a
/// line without its dashes, `name = value` or a flag's bare `name`, `#`
/// starting a comment. The command line comes after the file, so it wins
/// for single options; repeatable ones (`allow-origin`, `ice-server`) add up.
#[command(version, about, args_override_self = true)]
struct Args {
    /// Read options from this file first (see above).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Address to listen on (port 0 picks a free port; the real one is printed).
    #[arg(long, env = "PEERCALL_BIND", default_value = "127.0.0.1:7777")]
    bind: SocketAddr,

    /// A browser origin allowed to connect, e.g. https://call.example.com
    /// (repeatable). The app's own origins and pages served on loopback (the
    /// app's system-browser fallback) are always allowed.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allow_origins: Vec<String>,

    /// Allow loopback pages only on this server's own port, not on any port
    /// (refuses the desktop app's system-browser fallback).
    #[arg(long)]
    strict_loopback_origins: bool,

    /// Refuse WebSocket clients that send no Origin header (non-browser clients).
    #[arg(long)]
    require_origin: bool,

    /// PEM certificate chain; serve wss:// and https:// (needs --tls-key).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// PEM private key for --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// STUN/TURN URL handed to clients, e.g. stun:stun.example.com:3478 or
    /// turn:turn.example.com:3478?transport=udp (repeatable).
    #[arg(long = "ice-server", value_name = "URL")]
    ice_servers: Vec<String>,

    /// TURN REST shared secret (coturn static-auth-secret): TURN URLs get
    /// short-lived credentials. Prefer the environment variable, which does
    /// not show in the process list.
    #[arg(long, env = "PEERCALL_TURN_SECRET", hide_env_values = true)]
    turn_secret: Option<String>,

    /// Lifetime of TURN credentials, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = Config::default().turn_ttl.as_secs())]
    turn_ttl: u64,

    /// Serve this directory (the built UI) over HTTP(S) on the same port.
    #[arg(long, value_name = "DIR")]
    serve_ui: Option<PathBuf>,

    /// Most simultaneous connections (handshaking ones included).
    #[arg(long, default_value_t = Config::default().max_connections)]
    max_connections: usize,

    /// Most connections one client address (IPv4, or IPv6 /64) may have in
    /// the handshake at once.
    #[arg(long, default_value_t = Config::default().max_handshakes_per_address)]
    max_handshakes_per_address: usize,

    /// Most connections one client address may hold at once.
    #[arg(long, default_value_t = Config::default().max_connections_per_address)]
    max_connections_per_address: usize,

    /// Apply the per-address limits to loopback clients too (off: behind a
    /// reverse proxy every client comes from loopback).
    #[arg(long)]
    limit_loopback: bool,

    /// Behind a reverse proxy on this machine: count wrong room passwords
    /// per client as the proxy's `X-Forwarded-For` names it (the proxy must
    /// set that header itself).
    #[arg(long)]
    trust_forwarded_for: bool,

    /// Largest message accepted, in bytes (larger closes with 1009).
    #[arg(long, default_value_t = Config::default().max_message_bytes)]
    max_message_bytes: usize,

    /// Most frames one message may arrive in (larger closes with 1009).
    #[arg(long, default_value_t = Config::default().max_fragments_per_message)]
    max_fragments_per_message: usize,

    /// Sustained messages per second per connection.
    #[arg(long, default_value_t = Config::default().rate_per_sec)]
    rate_per_sec: u32,

    /// Message burst allowed above the sustained rate.
    #[arg(long, default_value_t = Config::default().rate_burst)]
    rate_burst: u32,

    /// Pongs per second per connection (clients answer one ping per
    /// --ping-interval; floods close with 1008).
    #[arg(long, default_value_t = Config::default().max_pongs_per_sec)]
    max_pongs_per_sec: u32,

    /// Most members per room.
    #[arg(long, default_value_t = Config::default().room_capacity)]
    room_capacity: usize,

    /// Longest room name, in characters.
    #[arg(long, default_value_t = Config::default().max_room_name_chars)]
    max_room_name_chars: usize,

    /// Longest display name, in characters.
    #[arg(long, default_value_t = Config::default().max_display_name_chars)]
    max_display_name_chars: usize,

    /// Most direct calls (ringing or established) per peer.
    #[arg(long, default_value_t = Config::default().max_calls_per_peer)]
    max_calls_per_peer: usize,

    /// Frames queued for a client before it counts as too slow and is dropped.
    #[arg(long, default_value_t = Config::default().outbound_queue)]
    outbound_queue: usize,

    /// Bytes queued for a client before it counts as too slow and is dropped.
    #[arg(long, value_name = "BYTES", default_value_t = Config::default().max_queued_bytes_per_connection)]
    max_queued_bytes_per_connection: usize,

    /// Bytes queued for all clients together; beyond it the slowest readers
    /// are dropped first (closed with 1013).
    #[arg(long, value_name = "BYTES", default_value_t = Config::default().max_queued_bytes)]
    max_queued_bytes: usize,

    /// Seconds allowed for the TLS handshake and HTTP request head.
    #[arg(long, value_name = "SECS", default_value_t = Config::default().handshake_timeout.as_secs())]
    handshake_timeout: u64,

    /// Seconds between server pings.
    #[arg(long, value_name = "SECS", default_value_t = Config::default().ping_interval.as_secs())]
    ping_interval: u64,

    /// Seconds of client silence (not even a pong) before disconnecting it.
    #[arg(long, value_name = "SECS", default_value_t = Config::default().idle_timeout.as_secs())]
    idle_timeout: u64,

    /// Threads that run connections (1: all on one thread, no cross-core
    /// wake-ups between a sender's task and its recipient's).
    #[arg(long, value_name = "N", default_value_t = 1)]
    threads: usize,

    /// Share rooms, peers and calls with other instances through this Redis
    /// (redis://HOST:PORT/), e.g. several servers behind a load balancer.
    /// Without it this server is on its own.
    #[arg(
        long,
        value_name = "URL",
        env = "PEERCALL_REDIS",
        hide_env_values = true
    )]
    redis: Option<String>,

    /// Seconds a single write to a client may take before it is dropped.
    #[arg(long, value_name = "SECS", default_value_t = Config::default().write_timeout.as_secs())]
    write_timeout: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse_from(with_config_file(std::env::args_os().collect())?);
    // One thread by default: a relay is a read, a lookup and a write, and
    // on one thread the reader wakes the recipient's task with no
    // cross-core wake-up and every task waits its turn in one queue, as in
    // an event loop (one core relays tens of thousands of messages a
    // second). More threads spread TLS handshakes and heavy rooms.
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<()> {
    // Logs go to stderr: stdout carries only the announcement lines that
    // scripts parse.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    match server::raise_fd_limit() {
        Ok(Some(limit)) if limit < (args.max_connections as u64).saturating_add(64) => warn!(
            limit,
            max_connections = args.max_connections,
            "open-file limit is below --max-connections; raise it (e.g. LimitNOFILE=)"
        ),
        Ok(_) => {}
        Err(error) => warn!(%error, "could not raise the open-file limit"),
    }

    let config = config_from(&args)?;
    config.validate()?;
    let shutdown = shutdown_signal()?;
    let tls = config.uses_tls();

    // Refused before announcing anything: an instance that was told to
    // share rooms must not serve alone from the start.
    if let Some(url) = &config.redis {
        server::check_redis(url)
            .await
            .context("--redis: the rooms are shared through Redis, which must be up at start")?;
    }

    let listener =
        server::bind(args.bind).with_context(|| format!("cannot listen on {}", args.bind))?;
    let local = listener.local_addr()?;
    let url = server::ws_url(local, tls);
    // A stable first line on stdout for scripts and tests; also logged.
    announce(&format!("listening on {url}"));
    info!(%url, "listening");
    if args.serve_ui.is_some() {
        let page = url.replacen("ws", "http", 1);
        announce(&format!("serving UI at {page}"));
        info!(%page, "serving UI");
    }

    server::run(listener, config, shutdown).await?;
    Ok(())
}

/// `argv` with the options of its `--config FILE` (if any) inserted after
/// the program name, before the command line's own.
fn with_config_file(argv: Vec<OsString>) -> anyhow::Result<Vec<OsString>> {
    let mut file = None;
    let mut iter = argv.iter().skip(1);
    while let Some(arg) = iter.next() {
        let arg = arg.to_string_lossy();
        if arg == "--config" {
            file = iter.next().map(PathBuf::from);
        } else if let Some(path) = arg.strip_prefix("--config=") {
            file = Some(PathBuf::from(path));
        }
    }
    let Some(file) = file else {
        return Ok(argv);
    };
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read the config file {}", file.display()))?;
    let options = config_file_args(&text)
        .with_context(|| format!("in the config file {}", file.display()))?;
    let mut argv = argv.into_iter();
    Ok(argv
        .next()
        .into_iter()
        .chain(options.into_iter().map(OsString::from))
        .chain(argv)
        .collect())
}

/// A config file's lines as command-line arguments: `name = value` is
/// `--name value`, a bare `name` is the flag `--name`.
fn config_file_args(text: &str) -> anyhow::Result<Vec<String>> {
    let mut args = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = match line.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim())),
            None => (line, None),
        };
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid || name.starts_with('-') {
            bail!(
                "line {}: `{line}` is not `name = value` or `name`",
                number + 1
            );
        }
        if name == "config" {
            bail!("line {}: a config file cannot name another", number + 1);
        }
        args.push(format!("--{name}"));
        args.extend(value.map(str::to_owned));
    }
    Ok(args)
}

/// Prints a line to stdout. Unlike `println!`, a closed stdout (a script
/// that read the first line and went away) must not take the server down.
fn announce(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

fn config_from(args: &Args) -> anyhow::Result<Config> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(server::load_tls_config(cert, key)?),
        (None, None) => None,
        _ => bail!("--tls-cert and --tls-key go together"),
    };
    let static_files = match &args.serve_ui {
        Some(dir) => {
            let files =
                DirFiles::new(dir).with_context(|| format!("cannot serve {}", dir.display()))?;
            if files.get("index.html").is_none() {
                warn!(dir = %dir.display(), "no index.html in the UI directory");
            }
            Some(Arc::new(files) as Arc<dyn StaticFiles>)
        }
        None => None,
    };
    let secs = Duration::from_secs;
    Ok(Config {
        allowed_origins: args.allow_origins.clone(),
        allow_loopback_origins: !args.strict_loopback_origins,
        shutdown_ends_calls: false,
        hosted_room: None,
        require_origin: args.require_origin,
        tls,
        static_files,
        ice_servers: args.ice_servers.clone(),
        turn_secret: args.turn_secret.clone().filter(|s| !s.is_empty()),
        turn_ttl: secs(args.turn_ttl),
        max_connections: args.max_connections,
        max_handshakes_per_address: args.max_handshakes_per_address,
        max_connections_per_address: args.max_connections_per_address,
        limit_loopback: args.limit_loopback,
        trust_forwarded_for: args.trust_forwarded_for,
        max_message_bytes: args.max_message_bytes,
        max_fragments_per_message: args.max_fragments_per_message,
        rate_per_sec: args.rate_per_sec,
        rate_burst: args.rate_burst,
        max_pongs_per_sec: args.max_pongs_per_sec,
        handshake_timeout: secs(args.handshake_timeout),
        ping_interval: secs(args.ping_interval),
        idle_timeout: secs(args.idle_timeout),
        write_timeout: secs(args.write_timeout),
        room_capacity: args.room_capacity,
        max_room_name_chars: args.max_room_name_chars,
        max_display_name_chars: args.max_display_name_chars,
        max_calls_per_peer: args.max_calls_per_peer,
        outbound_queue: args.outbound_queue,
        max_queued_bytes_per_connection: args.max_queued_bytes_per_connection,
        max_queued_bytes: args.max_queued_bytes,
        password_throttle: ThrottleLimits::default(),
        redis: args.redis.clone().filter(|url| !url.is_empty()),
    })
}

/// A future that completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM
/// (systemd, `docker stop`).
///
/// The handlers are installed here, before the server announces itself, not
/// when the future is first polled: a signal arriving in between would
/// otherwise kill the process instead of shutting it down gracefully.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => info!("SIGINT received"),
                _ = terminate.recv() => info!("SIGTERM received"),
            }
        })
    }
    #[cfg(windows)]
    {
        let mut interrupt = tokio::signal::windows::ctrl_c().context("cannot handle Ctrl-C")?;
        Ok(async move {
            interrupt.recv().await;
            info!("Ctrl-C received");
        })
    }
    #[cfg(not(any(unix, windows)))]
    {
        Ok(std::future::pending())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(file: &str, command_line: &[&str]) -> anyhow::Result<Args> {
        // Tests run in parallel: each gets a file of its own.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("peercall-signal-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{n}.conf"));
        std::fs::write(&path, file)?;
        let argv = ["peercall-signal", "--config", path.to_str().unwrap()]
            .iter()
            .chain(command_line)
            .map(OsString::from)
            .collect();
        let args = Args::try_parse_from(with_config_file(argv)?)?;
        std::fs::remove_file(&path)?;
        Ok(args)
    }

    #[test]
    fn a_config_file_sets_options_and_flags() {
        let args = parse(
            "# a comment\n\nbind = 0.0.0.0:7000\nallow-origin = https://a.example\n\
             allow-origin=https://b.example\nrequire-origin\nroom-capacity = 4\n",
            &[],
        )
        .unwrap();
        assert_eq!(args.bind, "0.0.0.0:7000".parse().unwrap());
        assert_eq!(
            args.allow_origins,
            ["https://a.example", "https://b.example"]
        );
        assert!(args.require_origin);
        assert_eq!(args.room_capacity, 4);
    }

    #[test]
    fn the_packaged_config_file_names_redis() {
        let args = parse("redis = redis://10.0.0.5:6379/\n", &[]).unwrap();
        assert_eq!(args.redis.as_deref(), Some("redis://10.0.0.5:6379/"));
        let packaged = include_str!("../debian/signal.conf").replace("# redis =", "redis =");
        let args = parse(&packaged, &[]).unwrap();
        assert_eq!(args.redis.as_deref(), Some("redis://10.0.0.5:6379/"));
    }

    #[test]
    fn the_command_line_wins_over_the_file() {
        let args = parse(
            "bind = 0.0.0.0:7000\nroom-capacity = 4\n",
            &["--bind", "127.0.0.1:9"],
        )
        .unwrap();
        assert_eq!(args.bind, "127.0.0.1:9".parse().unwrap());
        assert_eq!(args.room_capacity, 4);
    }

    #[test]
    fn a_bad_config_file_is_refused_with_its_line() {
        let error = parse("bind = 0.0.0.0:7000\n--bind 1\n", &[]).unwrap_err();
        assert!(format!("{error:#}").contains("line 2"), "{error:#}");
        let error = parse("no-such-option = 1\n", &[]).unwrap_err();
        assert!(error.to_string().contains("no-such-option"), "{error}");
        let error = parse("config = /etc/other\n", &[]).unwrap_err();
        assert!(
            format!("{error:#}").contains("cannot name another"),
            "{error:#}"
        );
    }

    #[test]
    fn without_config_the_arguments_are_unchanged() {
        let argv: Vec<OsString> = ["peercall-signal", "--bind", "127.0.0.1:1"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(with_config_file(argv.clone()).unwrap(), argv);
    }
}
