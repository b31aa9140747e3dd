// A completed flow is not serializable: its tokens are in the cache.
use msal_core::{AuthCodeFlow, Completed};

fn f(flow: &AuthCodeFlow<Completed>) -> String {
    serde_json::to_string(flow).unwrap_or_default()
}

fn main() {
    drop(f);
}
