use msal_core::{Resource, scopes};

#[derive(Resource)]
#[resource("https://graph.microsoft.com")]
enum Graph {
    #[scope("User.Read")]
    UserRead,
    #[scope(".default")]
    Default,
}

fn main() {
    let _ = scopes![
        "https://graph.microsoft.com/User.Read",
        "https://graph.microsoft.com/.default",
    ];
}
