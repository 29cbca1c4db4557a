//! Microphones plugged in and out while the app is open (its native engine
//! on real devices, no fake media): the app's sound server is a real
//! PulseAudio of the test's own, and a microphone is plugged into it and
//! pulled out again as a person plugs in a USB headset. Settings lists it
//! within seconds; once allowed, the preview records from it (as the sound
//! server sees); pulled out while in use, it leaves the list, without
//! reopening the screen.
#![cfg(target_os = "linux")]

use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use peercall_e2e::{click, wait_for, App, AppOptions, PulseServer};

/// The microphone picker's choices, as the person reads them.
const MICROPHONES: &str =
    "Array.from(document.querySelectorAll('#microphone-select option')).map(o => o.textContent)";

async fn microphones(app: &App) -> Result<Vec<String>> {
    let value = app
        .client
        .execute(&format!("return {MICROPHONES};"), vec![])
        .await?;
    Ok(serde_json::from_value(value)?)
}

/// Waits until the picker's choices satisfy `test`; answers how long it took.
async fn until(app: &App, what: &str, test: impl Fn(&[String]) -> bool) -> Result<Duration> {
    let started = Instant::now();
    loop {
        let listed = microphones(app).await?;
        if test(&listed) {
            return Ok(started.elapsed());
        }
        ensure!(
            started.elapsed() < Duration::from_secs(20),
            "{what}: the microphones listed are {listed:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the programs recording from `name` satisfy `test`.
async fn until_pulse(
    pulse: &PulseServer,
    name: &str,
    what: &str,
    test: impl Fn(usize) -> bool,
) -> Result<()> {
    let started = Instant::now();
    loop {
        let recordings = pulse.recordings_from(name)?;
        if test(recordings) {
            println!("{what}: after {:?}", started.elapsed());
            return Ok(());
        }
        ensure!(
            started.elapsed() < Duration::from_secs(20),
            "waiting for {what}: {recordings} recording from {name}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_microphone_plugged_in_appears_and_goes_when_pulled_out() -> Result<()> {
    let pulse = PulseServer::start().await?;
    let app = App::launch(AppOptions {
        env: pulse.env(),
        ..AppOptions::default()
    })
    .await?;
    let outcome = scenario(&app, &pulse).await;
    let _ = app.quit().await;
    outcome
}

async fn scenario(app: &App, pulse: &PulseServer) -> Result<()> {
    wait_for(&app.client, "#home[data-engine='native']").await?;
    click(&app.client, "#open-settings").await?;
    wait_for(&app.client, "#microphone-select").await?;
    let headset = "USB-Headset-Microphone";
    until(app, "before plugging in", |l| {
        !l.iter().any(|m| m.contains(headset))
    })
    .await?;

    let module = pulse.plug_microphone("usb_headset", headset)?;
    let appeared = until(app, "after plugging in", |l| {
        l.iter().any(|m| m.contains(headset))
    })
    .await?;
    app.capture_screen("native-devices-plugged")?;

    // Allowed, the preview records from it: the sound server sees the app
    // recording from that microphone. (It is pulled out below while in use.)
    click(&app.client, "#allow-media").await?;
    let name = "usb_headset";
    until_pulse(pulse, name, "the preview to record from the headset", |n| {
        n > 0
    })
    .await?;

    pulse.unplug(&module)?;
    let gone = until(app, "after pulling out", |l| {
        !l.iter().any(|m| m.contains(headset))
    })
    .await?;
    println!("a microphone plugged in was listed after {appeared:?}, gone {gone:?} after it was pulled out");
    Ok(())
}
