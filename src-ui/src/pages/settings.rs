use gloo::timers::callback::Timeout;
use peercall_signal::settings::{FieldError, Settings};
use yew::prelude::*;

use crate::components::{
    AboutSection, DevicesSection, Icon, IconKind, NetworkSection, TopBar, YouSection,
};
use crate::hooks::{use_settings_store, use_text, SaveOutcome};
use crate::i18n::Text;
use crate::platform::use_platform;
use crate::state::{use_app, Action, Page};

/// Where the last save stands, for the small confirmation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SaveStatus {
    Idle,
    Saving,
    Saved,
    Failed,
}

/// Settings, in four groups; every change is saved on the spot.
#[function_component(SettingsPage)]
pub fn settings_page() -> Html {
    let tr = use_text();
    let app = use_app();
    let engine = crate::hooks::use_engine();
    let platform = use_platform();
    let store = use_settings_store();
    let errors = use_state(Vec::<FieldError>::new);
    let status = use_state(|| SaveStatus::Idle);
    let hide_timer = use_mut_ref(|| None::<Timeout>);

    let on_save = {
        let store = store.clone();
        let errors = errors.clone();
        let status = status.clone();
        Callback::from(move |changed: Settings| {
            let store = store.clone();
            let errors = errors.clone();
            let status = status.clone();
            let hide_timer = hide_timer.clone();
            status.set(SaveStatus::Saving);
            wasm_bindgen_futures::spawn_local(async move {
                match store.save(changed).await {
                    SaveOutcome::Saved => {
                        errors.set(Vec::new());
                        status.set(SaveStatus::Saved);
                        let status = status.clone();
                        *hide_timer.borrow_mut() =
                            Some(Timeout::new(2500, move || status.set(SaveStatus::Idle)));
                    }
                    SaveOutcome::Superseded => {}
                    SaveOutcome::Refused(fields) => {
                        errors.set(fields);
                        status.set(SaveStatus::Idle);
                    }
                    SaveOutcome::Failed(error) => {
                        gloo::console::error!(format!("saving settings failed: {error:?}"));
                        status.set(SaveStatus::Failed);
                    }
                }
            });
        })
    };
    let on_reset = {
        let errors = errors.clone();
        let status = status.clone();
        Callback::from(move |_| {
            let store = store.clone();
            let errors = errors.clone();
            let status = status.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match store.reset().await {
                    Ok(_) => {
                        errors.set(Vec::new());
                        status.set(SaveStatus::Saved);
                    }
                    Err(_) => status.set(SaveStatus::Failed),
                }
            });
        })
    };
    let on_back = {
        let app = app.clone();
        Callback::from(move |_| app.dispatch(Action::Navigate(Page::Home)))
    };

    let status_badge = match *status {
        SaveStatus::Idle => html! {},
        SaveStatus::Saving => html! {
            <span class="badge" id="save-status" data-state="saving" role="status"><span class="spinner" />{ tr(Text::Saving) }</span>
        },
        SaveStatus::Saved => html! {
            <span class="badge ok" id="save-status" data-state="saved" role="status"><span class="dot" />{ tr(Text::Saved) }</span>
        },
        SaveStatus::Failed => html! {
            <span class="badge error" id="save-status" data-state="failed" role="alert">{ tr(Text::SaveFailed) }</span>
        },
    };

    let errors_rc: std::rc::Rc<Vec<FieldError>> = std::rc::Rc::new((*errors).clone());
    html! {
        <>
            <TopBar>{ status_badge }</TopBar>
            <main class="settings" id="settings">
                <div class="settings-head">
                    <button class="button ghost" id="settings-back" onclick={on_back}>
                        <Icon kind={IconKind::ArrowLeft} size={18} />
                        <span>{ tr(Text::Back) }</span>
                    </button>
                    <h1>{ tr(Text::SettingsTitle) }</h1>
                </div>
                <YouSection settings={app.settings.clone()} errors={errors_rc.clone()} on_save={on_save.clone()} />
                <DevicesSection settings={app.settings.clone()} errors={errors_rc.clone()} on_save={on_save.clone()} platform={platform.clone()} />
                <NetworkSection settings={app.settings.clone()} errors={errors_rc.clone()} on_save={on_save.clone()} />
                <AboutSection path={app.settings_path.clone()} {on_reset}
                    engine={platform.engine.clone()} host={platform.host}
                    screen_share={engine.can_share_screen()} />
            </main>
        </>
    }
}
