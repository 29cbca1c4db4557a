use web_sys::{HtmlVideoElement, MediaStream};
use yew::prelude::*;

use crate::call::VideoSource;
use crate::components::video_tile::{attach_stream, detach_stream};
use crate::components::NativeVideo;

/// Props for [`CameraPreview`].
#[derive(Properties, PartialEq)]
pub struct CameraPreviewProps {
    /// What to show: a browser stream (its video track, muted: this is
    /// your own voice) or the native engine's preview frames.
    pub video: Option<VideoSource>,
    /// Shown over the picture when there is none (why, in words).
    #[prop_or_default]
    pub children: Html,
}

/// Your own camera, mirrored like a mirror.
#[function_component(CameraPreview)]
pub fn camera_preview(props: &CameraPreviewProps) -> Html {
    let video = use_node_ref();
    let stream: Option<MediaStream> = match &props.video {
        Some(VideoSource::Stream(stream)) => Some(Clone::clone(stream)),
        _ => None,
    };
    {
        let video = video.clone();
        use_effect_with(stream, move |stream| {
            let element = video.cast::<HtmlVideoElement>();
            if let Some(element) = &element {
                if attach_stream(element, stream.as_ref(), true) {
                    let _ = element.play();
                }
            }
            move || detach_stream(element)
        });
    }
    let has_video = props.video.as_ref().is_some_and(VideoSource::has_video);
    html! {
        <div class="camera-preview" data-playing={has_video.to_string()}>
            if let Some(VideoSource::Native { stream, frames }) = &props.video {
                <NativeVideo id="settings-preview" stream={*stream} frames={frames.clone()} />
            } else {
                <video id="settings-preview" ref={video} autoplay=true muted=true playsinline=true />
            }
            if !has_video {
                <div class="camera-preview-overlay">{ props.children.clone() }</div>
            }
        </div>
    }
}
