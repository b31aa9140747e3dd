use msal_core::{Resource, scopes};

#[derive(Resource)]
#[resource("https://graph.microsoft.com")]
enum Graph {
    #[scope("User.Read Mail.Send")]
    Both,
    #[scope("User.Read\u{7}")]
    Bell,
}

fn main() {
    let _ = scopes!["User.Read Mail.Send"];
}
