//! One running app per session: a second launch — here an invite link
//! clicked while the app runs — reaches the running app instead of opening
//! a second window, and the running app shows the join screen for that
//! link's room.

use anyhow::{ensure, Result};
use fantoccini::Locator;
use peercall_e2e::{
    opened_url, recording_browser, wait_for, wait_until, without_native_engine, App, AppOptions,
    SignalServer,
};

/// The main window's title (`window.rs`).
const TITLE: &str = "Peercall";

#[tokio::test(flavor = "multi_thread")]
async fn a_link_opened_while_the_app_runs_reaches_the_running_window() -> Result<()> {
    let server = SignalServer::start(&[]).await?;
    let (opened, mut env) = recording_browser()?;
    // Calls go to the system browser: no native engine.
    env.extend(without_native_engine());
    let app = App::launch(AppOptions {
        env,
        ..AppOptions::default()
    })
    .await?;
    wait_for(&app.client, "#server-status[data-state='ready']").await?;
    ensure!(
        app.client.windows().await?.len() == 1,
        "one window to start with"
    );
    let before = app.x_windows(TITLE)?;
    ensure!(before.len() == 1, "one X window titled {TITLE}: {before:?}");

    let invite = format!("peercall://127.0.0.1:{}/second-launch-room", server.port);
    let status = app.launch_again(std::slice::from_ref(&invite)).await?;
    ensure!(
        status.success(),
        "the second launch handed the link over and exited cleanly ({status})"
    );

    // The running app shows the join screen for the link's room…
    wait_for(&app.client, "#join-page").await?;
    let wanted = serde_json::to_string(&invite)?;
    let shown = wait_until(
        &app.client,
        "the join screen to show the link",
        &format!("document.querySelector('#join-address')?.value === {wanted}"),
    )
    .await;
    if shown.is_err() {
        let value = app
            .client
            .find(Locator::Css("#join-address"))
            .await?
            .prop("value")
            .await?;
        anyhow::bail!("the join screen shows {value:?}, not {invite}");
    }
    // …and carries on into that call as a launch link would.
    let url = opened_url(&opened, 0).await?;
    ensure!(url.contains("room=second-launch-room"), "opened {url}");

    // Still one window, in WebDriver's view and on the screen.
    let handles = app.client.windows().await?;
    ensure!(handles.len() == 1, "window handles: {handles:?}");
    let after = app.x_windows(TITLE)?;
    ensure!(
        after == before,
        "the same single X window: before {before:?}, after {after:?}"
    );
    app.quit().await
}
