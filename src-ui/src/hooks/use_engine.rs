use yew::prelude::*;

use crate::call::Engine;

/// The app's call engine (provided by the root component).
#[hook]
pub fn use_engine() -> Engine {
    use_context::<Engine>().expect("Engine context")
}
