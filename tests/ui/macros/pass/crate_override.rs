//! `#[msal(crate = "...")]` when msal-core is reached through another path.

mod reexport {
    pub use msal_core as msal;
}

use reexport::msal::{Resource, ScopeSet, scopes};

#[derive(Resource)]
#[msal(crate = "crate::reexport::msal")]
#[resource("api://contoso.com/orders")]
enum Orders {
    #[scope("Orders.Read")]
    Read,
}

fn main() {
    let _: &ScopeSet = Orders::Read.scope_set();
    let _: &ScopeSet = scopes![
        #[msal(crate = "crate::reexport::msal")]
        "Orders.Read"
    ];
}
