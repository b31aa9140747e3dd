use msal_core::{Resource, scopes};

#[derive(Resource)]
#[resource("https://graph.microsoft.com", version = "2")]
#[msal(rename_all = "lowercase")]
#[scope("User.Read")]
enum Graph {
    #[scope("User.Read", optional)]
    #[resource("https://graph.microsoft.com")]
    UserRead,
}

fn main() {
    let _ = scopes![
        #[serde(crate = "x")]
        "User.Read"
    ];
}
