//! Reading and driving a page over WebDriver, as a person would: waiting
//! for elements, text and conditions, clicking, typing, screenshots.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fantoccini::{Client, Locator};
use serde_json::Value;

use crate::process::artifacts;

/// How long a test waits for something a user would see.
pub const UI_TIMEOUT: Duration = Duration::from_secs(30);

/// Waits until `css` matches an element and returns it.
pub async fn wait_for(client: &Client, css: &str) -> Result<fantoccini::elements::Element> {
    client
        .wait()
        .at_most(UI_TIMEOUT)
        .for_element(Locator::Css(css))
        .await
        .with_context(|| format!("`{css}` never appeared"))
}

/// Waits until `script` (a JS expression) is truthy, returning its value.
pub async fn wait_until(client: &Client, what: &str, script: &str) -> Result<Value> {
    let deadline = Instant::now() + UI_TIMEOUT;
    loop {
        let value = client
            .execute(&format!("return ({script});"), vec![])
            .await
            .with_context(|| format!("evaluating {script}"))?;
        let truthy = match &value {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => n.as_f64() != Some(0.0),
            _ => true,
        };
        if truthy {
            return Ok(value);
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what} (`{script}` was {value})");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the element matching `css` exists and its text (the DOM's
/// `textContent`, which, unlike WebDriver's visible text, doesn't depend on
/// a fade-in having finished) contains `needle`; returns that text.
pub async fn wait_for_text(client: &Client, css: &str, needle: &str) -> Result<String> {
    let script = format!(
        "const e = document.querySelector({css}); return e && e.textContent.includes({needle}) ? e.textContent : null;",
        css = serde_json::to_string(css)?,
        needle = serde_json::to_string(needle)?,
    );
    let deadline = Instant::now() + UI_TIMEOUT;
    loop {
        let value = client.execute(&script, vec![]).await?;
        if let Value::String(text) = value {
            return Ok(text);
        }
        if Instant::now() > deadline {
            let seen = client
                .execute(
                    &format!(
                        "return document.querySelector({})?.textContent ?? null;",
                        serde_json::to_string(css)?
                    ),
                    vec![],
                )
                .await?;
            bail!("`{css}` never said {needle:?} (it says {seen})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The attribute `name` of the element matching `css`, once it appears.
pub async fn attr(client: &Client, css: &str, name: &str) -> Result<String> {
    wait_for(client, css)
        .await?
        .attr(name)
        .await?
        .with_context(|| format!("{css} has no {name}"))
}

/// Types `text` into the element matching `css` (clearing it first).
pub async fn type_into(client: &Client, css: &str, text: &str) -> Result<()> {
    let field = wait_for(client, css).await?;
    field.clear().await?;
    if !text.is_empty() {
        field.send_keys(text).await?;
    }
    Ok(())
}

/// Clicks the element matching `css` once it appears.
pub async fn click(client: &Client, css: &str) -> Result<()> {
    wait_for(client, css)
        .await?
        .click()
        .await
        .with_context(|| format!("clicking `{css}`"))?;
    Ok(())
}

/// Saves a PNG screenshot to `tests/artifacts/NAME.png`.
pub async fn screenshot(client: &Client, name: &str) -> Result<PathBuf> {
    let png = client.screenshot().await?;
    let path = artifacts().join(format!("{name}.png"));
    std::fs::write(&path, png)?;
    Ok(path)
}
