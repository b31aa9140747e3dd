// Client credentials need a confidential client.
async fn f(app: msal_core::PublicClient) {
    let _ = app
        .acquire_token_for_client("https://graph.microsoft.com/.default")
        .await;
}

fn main() {
    drop(f);
}
