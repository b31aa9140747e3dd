// A confidential client needs a credential: it is the builder's second argument.
use msal_core::ConfidentialClient;

fn main() {
    let _app = ConfidentialClient::builder("00000000-0000-0000-0000-000000000001").build();
}
