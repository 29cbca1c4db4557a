use peercall_signal::shell::native::StreamId;
use web_sys::HtmlCanvasElement;
use yew::prelude::*;

use crate::call::native::Frames;

/// Props for [`NativeVideo`].
#[derive(Properties, PartialEq)]
pub struct NativeVideoProps {
    /// Which of the shell's streams to draw.
    pub stream: StreamId,
    /// The page's frames connection.
    pub frames: Frames,
    /// The element's id, if it needs one.
    #[prop_or_default]
    pub id: Option<AttrValue>,
}

/// Video from the shell's native engine: the newest frame of `stream`,
/// drawn on a canvas, which counts what it drew in `data-frames`.
#[function_component(NativeVideo)]
pub fn native_video(props: &NativeVideoProps) -> Html {
    let canvas = use_node_ref();
    {
        let canvas = canvas.clone();
        use_effect_with(
            (props.stream, props.frames.clone()),
            move |(stream, frames)| {
                let showing = canvas
                    .cast::<HtmlCanvasElement>()
                    .map(|element| frames.show(*stream, element));
                move || drop(showing)
            },
        );
    }
    {
        // A canvas the size of the video holds its pixels (3.5 MiB at
        // 720p) until the garbage collector finds it once it is gone:
        // give them back when the tile goes.
        let canvas = canvas.clone();
        use_effect_with((), move |()| {
            let element = canvas.cast::<HtmlCanvasElement>();
            move || {
                if let Some(element) = element {
                    element.set_width(0);
                    element.set_height(0);
                }
            }
        });
    }
    html! {
        <canvas ref={canvas} id={props.id.clone()} class="native-video"
            data-stream={props.stream.0.to_string()} data-frames="0" />
    }
}
