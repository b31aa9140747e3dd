// The passing twins: a builder returned from a helper and configured conditionally; a flow
// completed once; its result read after completion; a device code flow polled once.
use msal_core::{
    AuthCodeFlow, Authority, ClientCredential, ConfidentialClient, ConfidentialClientBuilder,
    DeviceCodeFlow, Initiated, PublicClient, TokenCache,
};

fn base(secret: &str) -> ConfidentialClientBuilder {
    ConfidentialClient::builder(
        "00000000-0000-0000-0000-000000000001",
        ClientCredential::secret(secret),
    )
    .authority(Authority::tenant("contoso.onmicrosoft.com"))
}

async fn flows(
    app: PublicClient,
    auth: AuthCodeFlow<Initiated>,
    device: DeviceCodeFlow<Initiated>,
) -> msal_core::Result<()> {
    let session = serde_json::to_string(&auth).expect("an initiated flow serializes");
    let auth: AuthCodeFlow<Initiated> = serde_json::from_str(&session).expect("and reads back");
    let done = auth.complete(&app, "code=c&state=s").await?;
    let _ = done.result();
    let _ = device.poll(&app).await?;
    Ok(())
}

fn main() {
    let cache: Option<TokenCache> = Some(TokenCache::new());
    let mut builder = base("s");
    if let Some(c) = cache {
        builder = builder.cache(c);
    }
    let app = builder.build().expect("builds");
    assert_eq!(app.client_id(), "00000000-0000-0000-0000-000000000001");
    let public = PublicClient::builder("0c9e4a1b-6d2f-4e83-b5a7-19f0c2d3e4a5")
        .build()
        .expect("builds");
    drop(flows);
    drop(public);
}
