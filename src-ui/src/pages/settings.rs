use gloo::timers::callback::Timeout;
use peercall_signal::settings::{FieldError, Settings};
use yew::prelude::*;

use crate::app::AppContext;
use crate::components::{
    AboutSection, DevicesSection, Icon, IconKind, NetworkSection, TopBar, YouSection,
};
use crate::hooks::use_text;
use crate::i18n::Text;
use crate::platform::Platform;
use crate::state::{Action, Page};

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
    let app = use_context::<AppContext>().expect("AppContext");
    let platform = use_context::<Platform>().expect("Platform context");
    let errors = use_state(Vec::<FieldError>::new);
    let status = use_state(|| SaveStatus::Idle);
    let hide_timer = use_mut_ref(|| None::<Timeout>);
    // Saves can overlap (a toggle flipped twice quickly) and their answers
    // arrive in any order: only the newest one updates the page.
    let latest_save = use_mut_ref(|| 0u32);
    // What the newest save sent, until its answer is the page's settings: a
    // change made meanwhile is applied to it, not to the older copy the
    // sections still show (or it would undo the change before it).
    let pending = use_mut_ref(|| None::<Settings>);

    let on_save = {
        let app = app.clone();
        let platform = platform.clone();
        let errors = errors.clone();
        let status = status.clone();
        Callback::from(move |changed: Settings| {
            let settings = match pending.borrow().as_ref() {
                Some(newest) => newest.with_change(&app.settings, &changed),
                None => changed,
            };
            *pending.borrow_mut() = Some(settings.clone());
            let app = app.clone();
            let platform = platform.clone();
            let errors = errors.clone();
            let status = status.clone();
            let hide_timer = hide_timer.clone();
            let latest_save = latest_save.clone();
            let pending = pending.clone();
            let this_save = {
                let mut latest = latest_save.borrow_mut();
                *latest += 1;
                *latest
            };
            status.set(SaveStatus::Saving);
            wasm_bindgen_futures::spawn_local(async move {
                let result = platform.save_settings(&settings).await;
                if *latest_save.borrow() != this_save {
                    return;
                }
                pending.borrow_mut().take();
                match result {
                    Ok(saved) => {
                        errors.set(Vec::new());
                        app.dispatch(Action::SettingsChanged(saved));
                        status.set(SaveStatus::Saved);
                        let status = status.clone();
                        *hide_timer.borrow_mut() =
                            Some(Timeout::new(2500, move || status.set(SaveStatus::Idle)));
                    }
                    Err(error) if !error.fields.is_empty() => {
                        errors.set(error.fields);
                        status.set(SaveStatus::Idle);
                    }
                    Err(error) => {
                        gloo::console::error!(format!("saving settings failed: {error:?}"));
                        status.set(SaveStatus::Failed);
                    }
                }
            });
        })
    };
    let on_reset = {
        let app = app.clone();
        let platform = platform.clone();
        let errors = errors.clone();
        let status = status.clone();
        Callback::from(move |_| {
            let app = app.clone();
            let platform = platform.clone();
            let errors = errors.clone();
            let status = status.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match platform.reset_settings().await {
                    Ok(settings) => {
                        errors.set(Vec::new());
                        app.dispatch(Action::SettingsChanged(settings));
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
                <DevicesSection settings={app.settings.clone()} errors={errors_rc.clone()} on_save={on_save.clone()} />
                <NetworkSection settings={app.settings.clone()} errors={errors_rc.clone()} on_save={on_save.clone()} />
                <AboutSection path={app.settings_path.clone()} {on_reset} />
            </main>
        </>
    }
}
