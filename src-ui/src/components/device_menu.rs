use peercall_signal::settings::Settings;
use yew::prelude::*;

use crate::components::SelectField;
use crate::hooks::{device_options, use_media_devices, use_text, MediaDevice};
use crate::i18n::Text;

/// Props for [`DeviceMenu`].
#[derive(Properties, PartialEq)]
pub struct DeviceMenuProps {
    /// The settings in force (the chosen devices).
    pub settings: Settings,
    /// Saves settings with another device chosen.
    pub on_change: Callback<Settings>,
    /// Closes the menu.
    pub on_close: Callback<()>,
    /// The native engine captures (list the shell's devices).
    #[prop_or_default]
    pub native: bool,
}

/// A small panel above the control bar to switch camera or microphone in the
/// middle of a call (the call moves to it without dropping).
#[function_component(DeviceMenu)]
pub fn device_menu(props: &DeviceMenuProps) -> Html {
    let tr = use_text();
    let devices = use_media_devices(0, props.native);
    let options = |list: &[MediaDevice], unnamed: Text| {
        device_options(list, tr(Text::SystemDefault), tr(unnamed))
    };
    let choose = |camera: bool| {
        let settings = props.settings.clone();
        let on_change = props.on_change.clone();
        Callback::from(move |value: String| {
            let mut next = settings.clone();
            let choice = (!value.is_empty()).then_some(value);
            if camera {
                next.devices.camera = choice;
            } else {
                next.devices.microphone = choice;
            }
            on_change.emit(next);
        })
    };
    let on_close = {
        let on_close = props.on_close.clone();
        Callback::from(move |_| on_close.emit(()))
    };
    html! {
        <section class="device-menu" id="device-menu" aria-label={tr(Text::ChooseDevices)}>
            <div class="device-menu-head">
                <h2>{ tr(Text::ChooseDevices) }</h2>
                <button class="button ghost small" onclick={on_close}>{ tr(Text::Dismiss) }</button>
            </div>
            <SelectField id="call-camera-select" label={tr(Text::Camera)}
                options={options(&devices.cameras, Text::Camera)}
                selected={props.settings.devices.camera.clone().unwrap_or_default()}
                on_change={choose(true)} />
            <SelectField id="call-microphone-select" label={tr(Text::Microphone)}
                options={options(&devices.microphones, Text::Microphone)}
                selected={props.settings.devices.microphone.clone().unwrap_or_default()}
                on_change={choose(false)} />
        </section>
    }
}
