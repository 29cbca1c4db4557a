//! Settings, devices and permissions in the real desktop app (Xvfb,
//! tauri-driver + WebKitWebDriver). This machine's WebKitGTK has no WebRTC,
//! so the app's own (native) engine captures: with `PEERCALL_FAKE_MEDIA=1`
//! its test camera and microphone, the preview drawn on a canvas that
//! counts its frames (`data-frames`).

use std::path::Path;

use anyhow::{ensure, Context, Result};
use fantoccini::{Client, Locator};
use peercall_e2e::{settings_dir, temp_dir, wait_for, wait_until, App, AppOptions};
use serde_json::Value;

/// Tab: leaves a text field, which is when it commits (`change`).
const TAB: &str = "\u{E004}";

async fn open_settings(client: &Client) -> Result<()> {
    wait_for(client, "#home").await?;
    client
        .find(Locator::Css("#open-settings"))
        .await?
        .click()
        .await?;
    wait_for(client, "#settings").await?;
    Ok(())
}

async fn wait_saved(client: &Client) -> Result<()> {
    wait_for(client, "#save-status[data-state='saved']").await?;
    Ok(())
}

fn stored(dir: &std::path::Path) -> Result<Value> {
    let text = std::fs::read_to_string(dir.join("settings.json")).context("settings.json")?;
    Ok(serde_json::from_str(&text)?)
}

/// Whether the app's engine gets test devices (a camera with a moving
/// picture, a microphone with a tone).
#[derive(Clone, Copy, PartialEq, Eq)]
enum MockCapture {
    On,
    Off,
}

/// The frames the settings preview drew so far (0 while there is none).
const PREVIEW_FRAMES: &str =
    "Number(document.querySelector('#settings-preview')?.dataset.frames ?? 0)";

/// The real app, keeping its settings in `config_dir`.
async fn launch(config_dir: &Path, capture: MockCapture) -> Result<App> {
    let env = match capture {
        MockCapture::On => vec![("PEERCALL_FAKE_MEDIA".into(), "1".into())],
        MockCapture::Off => Vec::new(),
    };
    App::launch(AppOptions {
        env,
        config_dir: Some(config_dir.to_owned()),
        ..AppOptions::default()
    })
    .await
}

/// A name and a language set in the UI are on disk, survive a restart, and
/// a refused value gets its message next to the field while nothing is written.
#[tokio::test(flavor = "multi_thread")]
async fn settings_survive_a_restart_and_bad_values_are_refused() -> Result<()> {
    let config_dir = temp_dir("restart");
    let app = launch(&config_dir, MockCapture::Off).await?;
    let client = &app.client;
    open_settings(client).await?;

    let name = wait_for(client, "#display-name").await?;
    name.send_keys("Jisoo Kim").await?;
    name.send_keys(TAB).await?;
    wait_saved(client).await?;
    ensure!(
        stored(&config_dir)?["display_name"] == "Jisoo Kim",
        "name not on disk"
    );

    // A port below 1024 is refused: message at the field, file unchanged.
    let port = wait_for(client, "#server-port").await?;
    port.clear().await?;
    port.send_keys("80").await?;
    port.send_keys(TAB).await?;
    let error = wait_for(client, "#server-port-error").await?;
    ensure!(
        error.text().await?.contains("1024"),
        "the port error should say the range"
    );
    ensure!(
        stored(&config_dir)?["embedded_server"]["port"] == 7777,
        "a refused value must not be written"
    );

    client
        .find(Locator::Css("#language"))
        .await?
        .select_by_value("ko")
        .await?;
    wait_until(
        client,
        "the page in Korean",
        "document.documentElement.lang === 'ko'",
    )
    .await?;
    ensure!(
        stored(&config_dir)?["language"] == "ko",
        "language not on disk"
    );
    app.quit().await?;

    // Same settings directory, new process.
    let app = launch(&config_dir, MockCapture::Off).await?;
    let client = &app.client;
    wait_until(
        client,
        "Korean after restart",
        "document.documentElement.lang === 'ko'",
    )
    .await?;
    open_settings(client).await?;
    let name = wait_for(client, "#display-name").await?;
    ensure!(
        name.prop("value").await?.as_deref() == Some("Jisoo Kim"),
        "the name did not survive the restart"
    );
    ensure!(
        wait_for(client, "#settings h1").await?.text().await? == "설정",
        "the settings page should be in Korean"
    );
    app.quit().await
}

/// A damaged settings file never stops the app: it is kept aside, defaults
/// load, and the user is told once.
#[tokio::test(flavor = "multi_thread")]
async fn corrupt_settings_file_is_set_aside_with_a_notice() -> Result<()> {
    let config_dir = settings_dir("corrupt", "{\"version\": 2, \"display_name\": ")?;
    let app = launch(&config_dir, MockCapture::Off).await?;
    let client = &app.client;
    let notice = wait_for(client, "#settings-notice").await?;
    let text = notice.text().await?;
    ensure!(
        text.contains("couldn't be read"),
        "notice says what happened: {text}"
    );
    let backup = std::fs::read_dir(&config_dir)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("corrupt"))
        .context("no backup of the damaged file")?;
    ensure!(
        text.contains(&*backup.to_string_lossy()),
        "notice names the backup"
    );
    ensure!(
        std::fs::read_to_string(&backup)? == "{\"version\": 2, \"display_name\": ",
        "the damaged file is kept as it was"
    );
    wait_for(client, "#start-call").await?;
    app.capture_screen("app-settings-corrupt-notice")?;
    client
        .find(Locator::Css("#settings-notice-dismiss"))
        .await?
        .click()
        .await?;
    wait_until(
        client,
        "the notice to go away",
        "document.querySelector('#settings-notice') === null",
    )
    .await?;
    app.quit().await
}

/// With test devices the pickers list the engine's devices and the
/// preview draws a moving picture, once the user allows access; choosing
/// the camera is saved and the preview goes on with it.
#[tokio::test(flavor = "multi_thread")]
async fn device_pickers_list_mock_devices_and_preview_plays() -> Result<()> {
    let config_dir = temp_dir("devices");
    let app = launch(&config_dir, MockCapture::On).await?;
    let client = &app.client;
    open_settings(client).await?;
    app.capture_screen("app-settings-permission-prompt")?;
    wait_for(client, "#allow-media").await?.click().await?;
    wait_until(
        client,
        "the test camera in the picker",
        "[...document.querySelectorAll('#camera-select option')].some(o => o.text.includes('Fake camera'))",
    )
    .await?;
    wait_until(
        client,
        "the test microphone in the picker",
        "[...document.querySelectorAll('#microphone-select option')].some(o => o.text.includes('Fake microphone'))",
    )
    .await?;
    let first = wait_until(
        client,
        "the preview to draw",
        &format!("{PREVIEW_FRAMES} >= 5"),
    )
    .await?
    .as_f64()
    .unwrap_or_default();
    wait_until(
        client,
        "the preview to keep drawing",
        &format!("{PREVIEW_FRAMES} > {first}"),
    )
    .await?;

    // Choosing the camera is saved, and the preview goes on with it.
    let camera = client
        .execute(
            "return [...document.querySelectorAll('#camera-select option')].map(o => o.value).find(v => v)",
            vec![],
        )
        .await?
        .as_str()
        .context("the picker lists a camera")?
        .to_owned();
    client
        .find(Locator::Css("#camera-select"))
        .await?
        .select_by_value(&camera)
        .await?;
    wait_saved(client).await?;
    ensure!(
        stored(&config_dir)?["devices"]["camera"] == camera.as_str(),
        "the chosen camera {camera} is not in the settings file"
    );
    let now = wait_until(
        client,
        "the preview after choosing",
        &format!("{PREVIEW_FRAMES} > 0"),
    )
    .await?
    .as_f64()
    .unwrap_or_default();
    wait_until(
        client,
        "the preview to keep drawing with the chosen camera",
        &format!("{PREVIEW_FRAMES} > {now} + 10"),
    )
    .await?;
    client
        .execute(
            "document.querySelector('#devices-section').scrollIntoView()",
            vec![],
        )
        .await?;
    app.capture_screen("app-settings-devices")?;
    app.quit().await
}

/// Camera and microphone refused in Peercall: no capture is attempted, and
/// the page says what happened and how to allow it on this OS; allowing it
/// again brings the preview back.
#[tokio::test(flavor = "multi_thread")]
async fn denied_permission_shows_guidance() -> Result<()> {
    let config_dir = settings_dir(
        "denied",
        r#"{"version": 2, "permissions": {"camera": "deny", "microphone": "deny"}}"#,
    )?;
    let app = launch(&config_dir, MockCapture::On).await?;
    let client = &app.client;
    open_settings(client).await?;
    let guidance = wait_for(client, "#permission-guidance").await?;
    let text = guidance.text().await?;
    ensure!(text.contains("isn't allowed"), "says what happened: {text}");
    ensure!(
        text.contains("switches below"),
        "says how to allow it on Linux: {text}"
    );
    ensure!(
        client.find(Locator::Css("#allow-media")).await.is_err(),
        "a refusal is not asked again"
    );
    wait_for(client, "#camera-message").await?;
    client
        .execute(
            "document.querySelector('#permission-guidance').scrollIntoView()",
            vec![],
        )
        .await?;
    app.capture_screen("app-settings-denied")?;

    for (switch, kind) in [
        ("#allow-camera", "camera"),
        ("#allow-microphone", "microphone"),
    ] {
        wait_for(client, switch).await?.click().await?;
        wait_saved(client).await?;
        // The badge may still show the previous save: the file is the truth.
        let deadline = std::time::Instant::now() + peercall_e2e::UI_TIMEOUT;
        while stored(&config_dir)?["permissions"][kind] != "allow" {
            ensure!(
                std::time::Instant::now() < deadline,
                "{kind} choice never reached the disk"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        if kind == "camera" {
            // As a person would: the camera shows before they flip the next
            // switch (the file is written a moment before the page has the
            // saved settings, and a switch flipped in that moment starts
            // from the page's older copy).
            wait_until(
                client,
                "the preview with the camera allowed",
                &format!("{PREVIEW_FRAMES} > 0"),
            )
            .await?;
        }
    }
    let shown = wait_until(
        client,
        "the preview once allowed",
        &format!("document.querySelector('#permission-guidance') === null && {PREVIEW_FRAMES} > 0"),
    )
    .await;
    if let Err(error) = shown {
        // Say what the page showed instead, so a failure can be understood.
        let state = client
            .execute(
                "const v = document.querySelector('#settings-preview'); \
                 return JSON.stringify({ \
                   access: document.querySelector('#devices-section').dataset.access, \
                   guidance: document.querySelector('#permission-guidance')?.innerText, \
                   status: document.querySelector('.preview-status')?.innerText, \
                   preview: v ? v.tagName + ' frames=' + v.dataset.frames : null });",
                vec![],
            )
            .await?;
        return Err(error.context(format!("page state: {state}")));
    }
    app.quit().await
}

/// The settings page in English and Korean, for people to look at.
#[tokio::test(flavor = "multi_thread")]
async fn settings_page_in_english_and_korean() -> Result<()> {
    let config_dir = settings_dir(
        "screens",
        r#"{"version": 2, "display_name": "Jisoo Kim", "permissions": {"camera": "allow", "microphone": "allow"}}"#,
    )?;
    let app = launch(&config_dir, MockCapture::On).await?;
    let client = &app.client;
    open_settings(client).await?;
    wait_until(client, "the preview", &format!("{PREVIEW_FRAMES} > 0")).await?;
    app.capture_screen("app-settings-en")?;
    client
        .find(Locator::Css("#language"))
        .await?
        .select_by_value("ko")
        .await?;
    wait_until(client, "Korean", "document.documentElement.lang === 'ko'").await?;
    let heading = wait_for(client, "#section-devices").await?.text().await?;
    ensure!(
        heading == "카메라 및 마이크",
        "devices heading in Korean: {heading}"
    );
    app.capture_screen("app-settings-ko")?;
    app.quit().await
}
