//! Every resource form, on an enum and on a unit struct, used where scopes are expected.

use msal_core::{IntoScopes, Resource, Scope, ScopeSet};

/// Microsoft Graph.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq)]
#[resource("https://graph.microsoft.com")]
enum Graph {
    /// Sign in and read the user's profile.
    #[scope("User.Read")]
    UserRead,
    #[scope("Mail.Send")]
    MailSend = 7,
}

#[derive(Resource)]
#[resource("api://0b2c3d4e-1111-2222-3333-444455556666")]
struct Backend;

#[derive(Resource)]
#[resource("00000003-0000-0000-c000-000000000000")]
enum GraphById {
    #[scope("User.Read")]
    UserRead,
}

#[derive(Resource)]
#[resource("https://management.core.windows.net/")]
pub struct Arm;

fn takes(_: impl IntoScopes) {}

fn main() {
    let _: &'static [Graph] = Graph::ALL;
    let _: &'static ScopeSet = Graph::default_scope();
    let _: &'static ScopeSet = Graph::UserRead.scope_set();
    let _: &'static str = Graph::MailSend.as_str();
    takes(Graph::UserRead);
    takes(&Graph::UserRead);
    takes([Graph::UserRead, Graph::MailSend]);
    takes(Backend);
    takes(Backend::default_scope());
    takes(GraphById::UserRead);
    takes(Arm);
    assert_eq!(
        Arm.scope_str(),
        "https://management.core.windows.net//.default"
    );
}
