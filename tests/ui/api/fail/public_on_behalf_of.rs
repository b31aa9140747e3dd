// On-behalf-of needs a confidential client.
async fn f(app: msal_core::PublicClient) {
    let _ = app.acquire_token_on_behalf_of("assertion", ["User.Read"]).await;
}

fn main() {
    drop(f);
}
