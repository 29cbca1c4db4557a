// Loads the wasm UI. Kept out of index.html so the Content-Security-Policy
// needs no inline scripts.
import init from "./peercall_ui.js";
init();
