use msal_core::Resource;

#[derive(Resource)]
#[resource("https://graph.microsoft.com")]
enum Graph {
    #[scope("User.Read")]
    UserRead(String),
    #[scope("Mail.Send")]
    MailSend { to: String },
}

#[derive(Resource)]
#[resource("https://graph.microsoft.com")]
struct NotAUnitStruct(u8);

fn main() {}
