use yew::prelude::*;

use crate::call::Engine;

/// The app's call engine (provided by the root component). Pages drive it
/// only through the operations of [`CallEngine`](crate::call::CallEngine)
/// and hear back through the callbacks they give it.
#[hook]
pub fn use_engine() -> Engine {
    use_context::<Engine>().expect("Engine context")
}
