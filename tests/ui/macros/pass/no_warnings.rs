//! The generated code is warning-free under strict lints, for private and public types alike,
//! even when none of the generated items is used.
#![deny(warnings, missing_docs, unreachable_pub, rust_2018_idioms, unused)]

mod private {
    use msal_core::Resource;

    #[derive(Resource)]
    #[resource("https://graph.microsoft.com")]
    enum Unused {
        #[scope("User.Read")]
        UserRead,
    }

    #[derive(Resource)]
    #[resource("https://vault.azure.net")]
    pub(crate) struct Vault;

    pub(crate) fn touch() {
        let _ = Unused::UserRead;
        let _ = Vault;
    }
}

/// Public API of this crate.
pub mod api {
    /// A public resource, documented.
    #[derive(msal_core::Resource)]
    #[resource("https://storage.azure.com")]
    pub enum Storage {
        /// Access storage as the user.
        #[scope("user_impersonation")]
        UserImpersonation,
    }
}

fn main() {
    private::touch();
}
