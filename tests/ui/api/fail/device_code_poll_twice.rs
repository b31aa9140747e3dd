// `poll` consumes the initiated device code flow.
use msal_core::{DeviceCodeFlow, Initiated, PublicClient};

async fn f(app: PublicClient, flow: DeviceCodeFlow<Initiated>) {
    let _done = flow.poll(&app).await;
    let _again = flow.poll(&app).await;
}

fn main() {
    drop(f);
}
