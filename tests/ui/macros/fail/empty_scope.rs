use msal_core::{Resource, scopes};

#[derive(Resource)]
#[resource("https://graph.microsoft.com")]
enum Graph {
    #[scope("")]
    Nothing,
}

fn main() {
    let _ = scopes!["User.Read", ""];
}
