use msal_core::Resource;

#[derive(Resource)]
#[resource("https://graph.microsoft.com")]
enum Graph {
    #[scope("User.Read")]
    UserRead,
    /// Forgot the attribute.
    MailSend,
}

#[derive(Resource)]
enum NoResource {
    #[scope("User.Read")]
    UserRead,
}

fn main() {}
