use yew::prelude::*;

/// Props for [`Avatar`].
#[derive(Properties, PartialEq)]
pub struct AvatarProps {
    /// Whose initials to show.
    pub name: AttrValue,
    /// Diameter in CSS pixels.
    #[prop_or(96)]
    pub size: u32,
}

/// Background tints for avatars, picked by name so a person keeps theirs.
const TINTS: [&str; 8] = [
    "#4c8dff", "#8b5cf6", "#ec4899", "#f59e0b", "#10b981", "#06b6d4", "#ef6c4a", "#64748b",
];

/// A person's initials in a coloured circle (camera off, ringing, prompts).
#[function_component(Avatar)]
pub fn avatar(props: &AvatarProps) -> Html {
    let initials: String = props
        .name
        .split_whitespace()
        .filter_map(|word| word.chars().next())
        .take(2)
        .flat_map(char::to_uppercase)
        .collect();
    let hash = props
        .name
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    let tint = TINTS[hash as usize % TINTS.len()];
    let style = format!(
        "width:{0}px;height:{0}px;font-size:{1}px;background:{tint}",
        props.size,
        props.size * 2 / 5
    );
    html! {
        <div class="avatar" {style} aria-hidden="true">{ initials }</div>
    }
}
