use yew::prelude::*;

/// Props for [`CallPage`].
#[derive(Properties, PartialEq)]
pub struct CallPageProps {
    /// The room code.
    pub room: String,
}

/// The call screen.
#[function_component(CallPage)]
pub fn call_page(props: &CallPageProps) -> Html {
    html! { <main class="call" data-room={props.room.clone()}></main> }
}
