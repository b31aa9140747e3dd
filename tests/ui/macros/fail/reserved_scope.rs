use msal_core::{Resource, scopes};

#[derive(Resource)]
#[resource("https://graph.microsoft.com")]
enum Graph {
    #[scope("User.Read")]
    UserRead,
    #[scope("offline_access")]
    OfflineAccess,
}

fn main() {
    let _ = scopes!["User.Read", "OpenID"];
}
