//! Inline SVG icons: everything ships inside the app, nothing from a CDN.

use yew::prelude::*;

/// Which icon to draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IconKind {
    Mic,
    MicOff,
    Camera,
    CameraOff,
    Chat,
    HangUp,
    Settings,
    Copy,
    Link,
    Globe,
    Plus,
    ArrowRight,
    ArrowLeft,
    Trash,
    Logo,
    Phone,
    Users,
    Close,
    Send,
    Volume,
    Shield,
    Signal,
    Screen,
    ScreenOff,
    File,
    Paperclip,
}

/// Props for [`Icon`].
#[derive(Properties, PartialEq)]
pub struct IconProps {
    /// The icon.
    pub kind: IconKind,
    /// Size in CSS pixels.
    #[prop_or(20)]
    pub size: u32,
}

/// A stroked 24×24 icon in the current text colour; hidden from screen
/// readers because every icon sits next to text or an `aria-label`.
#[function_component(Icon)]
pub fn icon(props: &IconProps) -> Html {
    let size = props.size.to_string();
    let body = match props.kind {
        IconKind::Mic => html! { <>
            <rect x="9" y="2" width="6" height="12" rx="3" />
            <path d="M5 10a7 7 0 0 0 14 0M12 17v4M8 21h8" />
        </> },
        IconKind::MicOff => html! { <>
            <path d="M3 3l18 18M9 9v1a3 3 0 0 0 5.1 2.1M15 9.3V5a3 3 0 0 0-5.7-1.3" />
            <path d="M19 10a7 7 0 0 1-1.2 3.9M5 10a7 7 0 0 0 10.6 6M12 17v4M8 21h8" />
        </> },
        IconKind::Camera => html! { <>
            <rect x="2" y="6" width="14" height="12" rx="2" />
            <path d="M16 10l6-3.5v11L16 14" />
        </> },
        IconKind::CameraOff => html! { <>
            <path d="M3 3l18 18M10.5 6H14a2 2 0 0 1 2 2v3.5l6-4.5v11l-2.2-1.6M16 16v0a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h1" />
        </> },
        IconKind::Chat => html! {
            <path d="M21 12a8 8 0 0 1-11.6 7.1L4 20.5l1.4-4.9A8 8 0 1 1 21 12z" />
        },
        IconKind::HangUp => html! {
            <path d="M3.5 14.5c4.8-4.6 12.2-4.6 17 0l-1.9 2.8-3.6-1.2-.4-2.6a10 10 0 0 0-5.2 0l-.4 2.6-3.6 1.2z" />
        },
        IconKind::Settings => html! { <>
            <circle cx="12" cy="12" r="3" />
            <path d="M19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-1.8-.3 1.7 1.7 0 0 0-1 1.5V21a2 2 0 1 1-4 0v-.1a1.7 1.7 0 0 0-1.1-1.5 1.7 1.7 0 0 0-1.8.3l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1a1.7 1.7 0 0 0 .3-1.8 1.7 1.7 0 0 0-1.5-1H3a2 2 0 1 1 0-4h.1a1.7 1.7 0 0 0 1.5-1.1 1.7 1.7 0 0 0-.3-1.8l-.1-.1a2 2 0 1 1 2.8-2.8l.1.1a1.7 1.7 0 0 0 1.8.3H9a1.7 1.7 0 0 0 1-1.5V3a2 2 0 1 1 4 0v.1a1.7 1.7 0 0 0 1 1.5 1.7 1.7 0 0 0 1.8-.3l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0-.3 1.8V9a1.7 1.7 0 0 0 1.5 1H21a2 2 0 1 1 0 4h-.1a1.7 1.7 0 0 0-1.5 1z" />
        </> },
        IconKind::Copy => html! { <>
            <rect x="9" y="9" width="12" height="12" rx="2" />
            <path d="M5 15H4a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v1" />
        </> },
        IconKind::Link => html! {
            <path d="M10 13a5 5 0 0 0 7.5.5l3-3a5 5 0 0 0-7-7l-1.7 1.7M14 11a5 5 0 0 0-7.5-.5l-3 3a5 5 0 0 0 7 7l1.7-1.7" />
        },
        IconKind::Globe => html! { <>
            <circle cx="12" cy="12" r="10" />
            <path d="M2 12h20M12 2a15 15 0 0 1 0 20M12 2a15 15 0 0 0 0 20" />
        </> },
        IconKind::Plus => html! { <path d="M12 5v14M5 12h14" /> },
        IconKind::ArrowRight => html! { <path d="M5 12h14M13 6l6 6-6 6" /> },
        IconKind::ArrowLeft => html! { <path d="M19 12H5M11 6l-6 6 6 6" /> },
        IconKind::Trash => {
            html! { <path d="M3 6h18M8 6V4h8v2M6 6l1 14h10l1-14M10 11v5M14 11v5" /> }
        }
        IconKind::Phone => html! {
            <path d="M22 16.9v3a2 2 0 0 1-2.2 2 19.8 19.8 0 0 1-8.6-3.1 19.5 19.5 0 0 1-6-6A19.8 19.8 0 0 1 2.1 4.2 2 2 0 0 1 4.1 2h3a2 2 0 0 1 2 1.7c.1.9.4 1.8.7 2.7a2 2 0 0 1-.5 2.1L8 9.8a16 16 0 0 0 6 6l1.3-1.3a2 2 0 0 1 2.1-.4c.9.3 1.8.6 2.7.7a2 2 0 0 1 1.7 2z" />
        },
        IconKind::Users => html! { <>
            <circle cx="9" cy="8" r="4" />
            <path d="M2 21v-1a6 6 0 0 1 6-6h2a6 6 0 0 1 6 6v1M16 4a4 4 0 0 1 0 8M22 21v-1a6 6 0 0 0-4-5.6" />
        </> },
        IconKind::Close => html! { <path d="M6 6l12 12M18 6L6 18" /> },
        IconKind::Send => html! { <path d="M22 2L11 13M22 2l-7 20-4-9-9-4z" /> },
        IconKind::Volume => html! { <>
            <path d="M11 5L6 9H2v6h4l5 4z" />
            <path d="M15.5 8.5a5 5 0 0 1 0 7M19 5a10 10 0 0 1 0 14" />
        </> },
        IconKind::Shield => html! { <>
            <path d="M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z" />
            <path d="M9 12l2 2 4-4" />
        </> },
        IconKind::Signal => html! { <path d="M4 20v-3M9 20v-7M14 20V9M19 20V4" /> },
        IconKind::Screen => html! { <>
            <rect x="2" y="3" width="20" height="14" rx="2" />
            <path d="M8 21h8M12 17v4M9 10l3-3 3 3M12 7v6" />
        </> },
        IconKind::ScreenOff => html! { <>
            <rect x="2" y="3" width="20" height="14" rx="2" />
            <path d="M8 21h8M12 17v4M9 7l6 6M15 7l-6 6" />
        </> },
        IconKind::File => html! { <>
            <path d="M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8z" />
            <path d="M14 2v6h6M9 13h6M9 17h6" />
        </> },
        IconKind::Paperclip => html! {
            <path d="M21 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.6-8.6a3.7 3.7 0 0 1 5.2 5.2l-8.6 8.6a1.8 1.8 0 0 1-2.6-2.6l7.9-7.9" />
        },
        IconKind::Logo => html! { <>
            <rect x="2" y="5" width="14" height="14" rx="4" fill="currentColor" stroke="none" />
            <path d="M16 10l6-3.5v11L16 14z" fill="currentColor" stroke="none" />
        </> },
    };
    html! {
        <svg class="icon" width={size.clone()} height={size} viewBox="0 0 24 24" fill="none"
            stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"
            aria-hidden="true" focusable="false">
            { body }
        </svg>
    }
}
