//! The call engine's process (`peercall-engine`, Linux) as the shell talks
//! to it over its standard input and output, with nothing else between:
//! the real binary, the wire's own framing and types.
//!
//! - An engine of another version than the shell (an upgrade replaced the
//!   file while the app runs) answers every request, readable or not, with
//!   `OtherVersion` and its own version, opens nothing, and ends when its
//!   input ends.
//! - An engine of the shell's version answers a request it cannot read
//!   with a failure under that request's id, instead of leaving the shell
//!   waiting, and goes on answering the next one.
//! - Either ends cleanly (exit status 0) when its input ends; one of the
//!   shell's version ten times in a row with its input closed at once,
//!   while it is still making its DTLS certificate (it used to crash
//!   there, in OpenSSL's exit handlers, about one time in four).
#![cfg(target_os = "linux")]

use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use peercall::native::process::child::{ARG, SHELL_VERSION_ARG};
use peercall::native::process::wire::{
    self, Answer, Failure, FromEngine, Message, Request, ToEngine, VERSION,
};
use peercall_e2e::app_bin;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How long one answer, or the process's end, may take.
const LIMIT: Duration = Duration::from_secs(20);

/// `peercall-engine`, built beside the app.
fn engine_bin() -> Result<std::path::PathBuf> {
    let engine = app_bin()?.with_file_name("peercall-engine");
    ensure!(engine.is_file(), "{} is not built", engine.display());
    Ok(engine)
}

fn start(shell_version: &str) -> Result<(Child, ChildStdin, ChildStdout)> {
    let mut child = Command::new(engine_bin()?)
        .args([ARG, SHELL_VERSION_ARG, shell_version])
        .env("PEERCALL_FAKE_MEDIA", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting peercall-engine")?;
    let stdin = child.stdin.take().context("no stdin")?;
    let stdout = child.stdout.take().context("no stdout")?;
    Ok((child, stdin, stdout))
}

async fn send(stdin: &mut ChildStdin, json: &[u8]) -> Result<()> {
    wire::write(stdin, &Message::Json(json.to_vec()))
        .await
        .context("writing a request")
}

/// The next answer (events and frames before it are skipped).
async fn answer(stdout: &mut ChildStdout) -> Result<(u64, Result<Answer, Failure>, bool)> {
    tokio::time::timeout(LIMIT, async {
        loop {
            match wire::read(stdout).await? {
                Some(Message::Json(bytes)) => match serde_json::from_slice(&bytes)? {
                    FromEngine::Answer { id, result, busy } => return Ok((id, result, busy)),
                    _ => continue,
                },
                Some(Message::Frame(_)) => continue,
                None => bail!("the engine ended without answering"),
            }
        }
    })
    .await
    .context("no answer in time")?
}

async fn ends(mut child: Child, stdin: ChildStdin) -> Result<()> {
    drop(stdin);
    let status = tokio::time::timeout(LIMIT, child.wait())
        .await
        .context("the engine did not end when its input ended")??;
    ensure!(status.success(), "the engine ended with {status}");
    Ok(())
}

/// Sends `json`, request `id`, and reads its answer (checked to be
/// `id`'s): what it gave, and whether the engine has work.
async fn ask(
    stdin: &mut ChildStdin,
    stdout: &mut ChildStdout,
    id: u64,
    json: Vec<u8>,
) -> Result<(Result<Answer, Failure>, bool)> {
    send(stdin, &json).await?;
    let (answered, result, busy) = answer(stdout).await?;
    ensure!(answered == id, "answered {answered}, asked {id}");
    Ok((result, busy))
}

fn close_media(id: u64) -> Result<Vec<u8>> {
    let request = ToEngine {
        id,
        request: Request::CloseMedia,
    };
    Ok(serde_json::to_vec(&request)?)
}

/// A request from some other version's wire, which this one can't read.
fn unreadable(id: u64) -> Vec<u8> {
    format!(r#"{{"id":{id},"request":{{"Dance":{{"slowly":true}}}}}}"#).into_bytes()
}

#[tokio::test]
async fn an_engine_of_another_version_refuses_every_request_by_its_id() -> Result<()> {
    let other = "0.0.0-another-build";
    let (child, mut stdin, mut stdout) = start(other)?;
    let (result, busy) = ask(&mut stdin, &mut stdout, 41, close_media(41)?).await?;
    ensure!(!busy, "an engine that refuses has nothing open");
    match result {
        Err(Failure::OtherVersion { engine, shell }) => {
            ensure!(engine == VERSION, "the engine says it is {engine}");
            ensure!(
                shell == other,
                "the engine read the shell's version as {shell}"
            );
        }
        other => bail!("a request from another version got {other:?}"),
    }
    let (result, _) = ask(&mut stdin, &mut stdout, 42, unreadable(42)).await?;
    ensure!(
        matches!(result, Err(Failure::OtherVersion { .. })),
        "an unreadable request got {result:?}"
    );
    ends(child, stdin).await
}

#[tokio::test]
async fn a_request_the_engine_cannot_read_is_answered_and_the_next_one_served() -> Result<()> {
    let (child, mut stdin, mut stdout) = start(VERSION)?;
    let (result, busy) = ask(&mut stdin, &mut stdout, 9, unreadable(9)).await?;
    ensure!(!busy, "nothing was opened");
    match result {
        Err(Failure::Failed(reason)) => ensure!(
            reason.contains("could not read the request"),
            "the failure says {reason:?}"
        ),
        other => bail!("an unreadable request got {other:?}"),
    }
    let (result, _) = ask(&mut stdin, &mut stdout, 10, close_media(10)?).await?;
    ensure!(
        matches!(result, Ok(Answer::Done)),
        "a readable request after it got {result:?}"
    );
    ends(child, stdin).await
}

#[tokio::test]
async fn an_engine_let_go_at_once_ends_cleanly_every_time() -> Result<()> {
    for _ in 0..10 {
        let (child, stdin, _stdout) = start(VERSION)?;
        ends(child, stdin).await?;
    }
    Ok(())
}
