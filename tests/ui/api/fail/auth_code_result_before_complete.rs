// An initiated flow has no result yet.
use msal_core::{AuthCodeFlow, Initiated};

fn f(flow: AuthCodeFlow<Initiated>) {
    let _r = flow.result();
}

fn main() {
    drop(f);
}
