use msal_core::{Resource, scopes};

#[derive(Resource)]
#[resource("https://graph.microsoft.com")]
enum Graph {
    #[scope("User.Read")]
    UserRead,
}

fn main() {
    let _ = scopes!["Mail.Send", Graph::UserRead, 42];
}
