use web_sys::{HtmlVideoElement, MediaStream};
use yew::prelude::*;

/// Props for [`CameraPreview`].
#[derive(Properties, PartialEq)]
pub struct CameraPreviewProps {
    /// The stream to show (its video track, muted: this is your own voice).
    pub stream: Option<MediaStream>,
    /// Shown over the picture when there is none (why, in words).
    #[prop_or_default]
    pub children: Html,
}

/// Your own camera, mirrored like a mirror.
#[function_component(CameraPreview)]
pub fn camera_preview(props: &CameraPreviewProps) -> Html {
    let video = use_node_ref();
    {
        let video = video.clone();
        use_effect_with(props.stream.clone(), move |stream| {
            if let Some(element) = video.cast::<HtmlVideoElement>() {
                element.set_src_object(stream.as_ref());
                if stream.is_some() {
                    let _ = element.play();
                }
            }
        });
    }
    let has_video = props
        .stream
        .as_ref()
        .is_some_and(|s| s.get_video_tracks().length() > 0);
    html! {
        <div class="camera-preview" data-playing={has_video.to_string()}>
            <video id="settings-preview" ref={video} autoplay=true muted=true playsinline=true />
            if !has_video {
                <div class="camera-preview-overlay">{ props.children.clone() }</div>
            }
        </div>
    }
}
