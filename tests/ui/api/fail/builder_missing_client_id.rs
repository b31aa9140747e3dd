// Every app needs its client id.
use msal_core::PublicClient;

fn main() {
    let _app = PublicClient::builder().build();
}
