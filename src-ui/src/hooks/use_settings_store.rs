//! The one way pages store settings: through the platform (the shell's
//! file, or this browser's storage), then into the app state.

use std::cell::RefCell;
use std::rc::Rc;

use peercall_signal::settings::{FieldError, Settings};
use yew::prelude::*;

use crate::platform::{use_platform, Platform, ShellError};
use crate::state::{use_app, Action, AppContext};

/// How a save from a settings form ended.
#[derive(Debug)]
pub enum SaveOutcome {
    /// Stored, and now the app's settings.
    Saved,
    /// A newer save started meanwhile; its answer is the one that counts.
    Superseded,
    /// Refused, with what is wrong with which field; nothing was stored.
    Refused(Vec<FieldError>),
    /// Could not be stored.
    Failed(ShellError),
}

/// Saves in flight from one component.
#[derive(Default)]
struct Saves {
    /// Numbers saves, so only the newest answer updates the page.
    latest: u32,
    /// What the newest save sent, until its answer arrives.
    pending: Option<Settings>,
}

/// Stores settings for the page that holds it ([`use_settings_store`]).
#[derive(Clone)]
pub struct SettingsStore {
    app: AppContext,
    platform: Platform,
    saves: Rc<RefCell<Saves>>,
}

impl SettingsStore {
    /// Stores `changed` (the settings as this page shows them, with one
    /// change) and, once stored, makes them the app's.
    ///
    /// Saves can overlap (a switch flipped twice quickly) and their answers
    /// arrive in any order: a change made while an older save is on its way
    /// is applied to what that save sent (not to the older copy the page
    /// still shows, which would undo it), and only the newest answer counts.
    pub async fn save(&self, changed: Settings) -> SaveOutcome {
        let (settings, this_save) = {
            let mut saves = self.saves.borrow_mut();
            let settings = match &saves.pending {
                Some(newest) => newest.with_change(&self.app.settings, &changed),
                None => changed,
            };
            saves.pending = Some(settings.clone());
            saves.latest += 1;
            (settings, saves.latest)
        };
        let result = self.platform.save_settings(&settings).await;
        {
            let mut saves = self.saves.borrow_mut();
            if saves.latest != this_save {
                return SaveOutcome::Superseded;
            }
            saves.pending = None;
        }
        match result {
            Ok(saved) => {
                self.app.dispatch(Action::SettingsChanged(saved));
                SaveOutcome::Saved
            }
            Err(error) if !error.fields.is_empty() => SaveOutcome::Refused(error.fields),
            Err(error) => SaveOutcome::Failed(error),
        }
    }

    /// Stores `settings` as a side effect of using the app (a name typed in
    /// a lobby, a device picked in a call): nowhere to show an error, so a
    /// failure is only logged.
    pub fn save_quietly(&self, settings: Settings) {
        let store = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            match store.save(settings).await {
                SaveOutcome::Saved | SaveOutcome::Superseded => {}
                SaveOutcome::Refused(fields) => {
                    gloo::console::warn!(format!("saving settings refused: {fields:?}"))
                }
                SaveOutcome::Failed(error) => {
                    gloo::console::warn!(format!("saving settings failed: {error:?}"))
                }
            }
        });
    }

    /// Keeps the name for next time.
    pub fn remember_name(&self, name: String) {
        if self.app.settings.display_name != name {
            let mut settings = self.app.settings.clone();
            settings.display_name = name;
            self.save_quietly(settings);
        }
    }

    /// Puts `url` first in the recent servers.
    pub fn remember_server(&self, url: &str) {
        let mut settings = self.app.settings.clone();
        settings.remember_server(url);
        if settings != self.app.settings {
            self.save_quietly(settings);
        }
    }

    /// Back to the defaults; once stored, they are the app's.
    pub async fn reset(&self) -> Result<Settings, ShellError> {
        let settings = self.platform.reset_settings().await?;
        self.app.dispatch(Action::SettingsChanged(settings.clone()));
        Ok(settings)
    }
}

/// The settings store for this component.
#[hook]
pub fn use_settings_store() -> SettingsStore {
    let app = use_app();
    let platform = use_platform();
    let saves = use_mut_ref(Saves::default);
    SettingsStore {
        app,
        platform,
        saves,
    }
}
