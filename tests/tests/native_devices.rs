//! Microphones and cameras plugged in and out while the app is open (its
//! native engine on real devices, no fake media), as a person plugs in a
//! USB headset or camera: the app's sound server is a real PulseAudio of
//! the test's own, its camera server a real PipeWire of the test's own.
//! Settings lists the device within seconds; once allowed, the preview
//! captures from it (as the sound or camera server sees it); pulled out
//! while in use, it leaves the list and the page says it is missing,
//! without reopening the screen.
#![cfg(target_os = "linux")]

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use peercall_e2e::{click, wait_for, wait_for_text, App, AppOptions, PipeWireServer, PulseServer};

/// A device picker's choices, as the person reads them.
async fn choices(app: &App, picker: &str) -> Result<Vec<String>> {
    let script = format!(
        "return Array.from(document.querySelectorAll('{picker} option')).map(o => o.textContent);"
    );
    let value = app.client.execute(&script, vec![]).await?;
    Ok(serde_json::from_value(value)?)
}

/// Waits until `picker`'s choices satisfy `test`; answers how long it took.
async fn until(
    app: &App,
    picker: &str,
    what: &str,
    test: impl Fn(&[String]) -> bool,
) -> Result<Duration> {
    let started = Instant::now();
    loop {
        let listed = choices(app, picker).await?;
        if test(&listed) {
            return Ok(started.elapsed());
        }
        ensure!(
            started.elapsed() < Duration::from_secs(20),
            "{what}: {picker} lists {listed:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `picker` lists a choice with `label` in it (`present`) or
/// none; answers how long it took.
async fn listed(
    app: &App,
    picker: &str,
    label: &str,
    present: bool,
    what: &str,
) -> Result<Duration> {
    until(app, picker, what, |l| {
        l.iter().any(|c| c.contains(label)) == present
    })
    .await
}

/// Runs `scenario` on an app on real devices with `env`, then quits it.
async fn on_real_devices(
    env: Vec<(String, String)>,
    scenario: impl AsyncFnOnce(&App) -> Result<()>,
) -> Result<()> {
    let app = App::launch(AppOptions {
        env,
        ..AppOptions::default()
    })
    .await?;
    let outcome = scenario(&app).await;
    let _ = app.quit().await;
    outcome
}

/// Waits until `count()` (streams the device's server sees capturing from
/// it) satisfies `test`.
async fn until_captured<F>(
    what: &str,
    count: impl Fn() -> F,
    test: impl Fn(usize) -> bool,
) -> Result<()>
where
    F: Future<Output = Result<usize>>,
{
    let started = Instant::now();
    loop {
        let captures = count().await?;
        if test(captures) {
            println!("{what}: after {:?}", started.elapsed());
            return Ok(());
        }
        ensure!(
            started.elapsed() < Duration::from_secs(20),
            "waiting for {what}: {captures} capturing"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens Settings on the home screen of an app on real devices.
async fn open_settings(app: &App) -> Result<()> {
    wait_for(&app.client, "#home[data-engine='native']").await?;
    click(&app.client, "#open-settings").await?;
    wait_for(&app.client, "#microphone-select").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_microphone_plugged_in_appears_and_goes_when_pulled_out() -> Result<()> {
    let pulse = PulseServer::start().await?;
    on_real_devices(pulse.env(), async |app| microphone(app, &pulse).await).await
}

async fn microphone(app: &App, pulse: &PulseServer) -> Result<()> {
    open_settings(app).await?;
    let picker = "#microphone-select";
    let headset = "USB-Headset-Microphone";
    listed(app, picker, headset, false, "before plugging in").await?;

    let module = pulse.plug_microphone("usb_headset", headset)?;
    let appeared = listed(app, picker, headset, true, "after plugging in").await?;
    app.capture_screen("native-devices-plugged")?;

    // Allowed, the preview records from it: the sound server sees the app
    // recording from that microphone. (It is pulled out below while in use.)
    click(&app.client, "#allow-media").await?;
    let name = "usb_headset";
    let recordings = || async { pulse.recordings_from(name) };
    until_captured("the preview to record from the headset", recordings, |n| {
        n > 0
    })
    .await?;

    pulse.unplug(&module)?;
    let gone = listed(app, picker, headset, false, "after pulling out").await?;
    let said = wait_for_text(&app.client, "#mic-message", "No microphone found").await?;
    println!(
        "a microphone plugged in was listed after {appeared:?}, gone {gone:?} after it was pulled out; the page says {said:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_camera_plugged_in_is_shown_and_goes_when_pulled_out() -> Result<()> {
    let pipewire = PipeWireServer::start().await?;
    on_real_devices(pipewire.env(), async |app| camera(app, &pipewire).await).await
}

async fn camera(app: &App, pipewire: &PipeWireServer) -> Result<()> {
    open_settings(app).await?;
    let picker = "#camera-select";
    let label = "USB Camera";
    listed(app, picker, label, false, "before plugging in").await?;

    let node = pipewire.plug_camera("usb_camera", label).await?;
    let appeared = listed(app, picker, label, true, "after plugging in").await?;

    // Allowed, the preview shows it: PipeWire sees the app capturing from
    // that camera, and the preview draws its moving picture.
    click(&app.client, "#allow-media").await?;
    let captures = || async { pipewire.captures_from("usb_camera") };
    until_captured("the preview to capture from the camera", captures, |n| {
        n > 0
    })
    .await?;
    let frames =
        "Number(document.querySelector('#settings-preview')?.getAttribute('data-frames') ?? 0)";
    peercall_e2e::wait_until(
        &app.client,
        "the preview to draw the camera",
        &format!("{frames} >= 10"),
    )
    .await?;
    app.capture_screen("native-devices-camera")?;

    pipewire.unplug(node)?;
    let gone = listed(app, picker, label, false, "after pulling out").await?;
    let said = wait_for_text(&app.client, "#camera-message", "No camera found").await?;
    println!(
        "a camera plugged in was listed after {appeared:?}, gone {gone:?} after it was pulled out; the page says {said:?}"
    );
    Ok(())
}
