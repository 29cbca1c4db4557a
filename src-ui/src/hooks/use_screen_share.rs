use web_sys::MediaStream;
use yew::prelude::*;

use crate::call::Engine;
use crate::call_state::CallState;
use crate::hooks::use_text;
use crate::i18n::{fill, Text, ToolText};

/// Screen sharing as the call page shows it.
#[derive(Clone, PartialEq)]
pub struct ScreenShare {
    /// The engine can share a screen (the button shows).
    pub can_share: bool,
    /// We share ours.
    pub sharing: bool,
    /// Someone else shares: why we can't now (one screen at a time).
    pub blocked: Option<AttrValue>,
    /// Start or stop sharing (the button and the S key).
    pub toggle: Callback<()>,
    /// The screen on the stage (theirs before ours) and its tile's name.
    pub shown: Option<(MediaStream, AttrValue)>,
}

/// Who shares what in the call, and the one toggle for it. The toggle
/// reads the latest state, so a shortcut made once stays right.
#[hook]
pub fn use_screen_share(engine: Engine, call: &CallState) -> ScreenShare {
    let tr = use_text();
    let name_or_someone = |name: &str| {
        if name.is_empty() {
            tr(Text::SomeoneName).to_owned()
        } else {
            name.to_owned()
        }
    };
    let presenter = call.peers.iter().find(|p| p.screen.is_some());
    let sharing = call.screen.is_some();
    let blocked = presenter.map(|p| {
        AttrValue::from(fill(
            tr(Text::Tool(ToolText::OneSharerOnly)),
            &name_or_someone(&p.name),
        ))
    });
    let shown = presenter
        .and_then(|p| {
            let name = fill(
                tr(Text::Tool(ToolText::ScreenOf)),
                &name_or_someone(&p.name),
            );
            Some((p.screen.clone()?, AttrValue::from(name)))
        })
        .or_else(|| {
            let stream = call.screen.clone()?;
            Some((
                stream,
                AttrValue::from(tr(Text::Tool(ToolText::YourScreen))),
            ))
        });
    let can_share = engine.can_share_screen();
    let latest = use_mut_ref(|| (false, false));
    *latest.borrow_mut() = (sharing, blocked.is_some());
    let toggle = use_memo((), move |_| {
        Callback::from(move |_| {
            let (sharing, blocked) = *latest.borrow();
            if sharing {
                engine.share_screen(false);
            } else if !blocked {
                engine.share_screen(true);
            }
        })
    });
    ScreenShare {
        can_share,
        sharing,
        blocked,
        toggle: (*toggle).clone(),
        shown,
    }
}
