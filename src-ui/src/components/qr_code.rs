use qrcode::render::svg;
use qrcode::QrCode;
use yew::prelude::*;

/// Props for [`QrImage`].
#[derive(Properties, PartialEq)]
pub struct QrImageProps {
    /// What the code encodes.
    pub text: AttrValue,
    /// Accessible description.
    pub alt: AttrValue,
}

/// A QR code of `text`, drawn as SVG (dark on white, as scanners expect,
/// whatever the theme).
#[function_component(QrImage)]
pub fn qr_image(props: &QrImageProps) -> Html {
    let source = use_memo(props.text.clone(), |text| {
        QrCode::new(text.as_bytes()).ok().map(|code| {
            let image = code
                .render::<svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .dark_color(svg::Color("#0e1014"))
                .light_color(svg::Color("#ffffff"))
                .build();
            format!(
                "data:image/svg+xml;charset=utf-8,{}",
                String::from(js_sys::encode_uri_component(&image))
            )
        })
    });
    match &*source {
        Some(src) => html! {
            <img class="qr" id="invite-qr" src={src.clone()} alt={props.alt.clone()}
                data-text={props.text.clone()} width="200" height="200" />
        },
        None => html! {},
    }
}
