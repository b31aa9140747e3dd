// `complete` consumes the initiated flow: it cannot be completed twice.
use msal_core::{AuthCodeFlow, Initiated, PublicClient};

async fn f(app: PublicClient, flow: AuthCodeFlow<Initiated>) {
    let _done = flow.complete(&app, "code=c&state=s").await;
    let _again = flow.complete(&app, "code=c&state=s").await;
}

fn main() {
    drop(f);
}
