use msal_core::{Resource, scopes};

#[derive(Resource)]
#[resource("http://graph.microsoft.com")]
struct PlainHttp;

#[derive(Resource)]
#[resource("https://graph.microsoft.com/?tenant=contoso")]
struct WithQuery;

#[derive(Resource)]
#[resource("graph.microsoft.com")]
struct NoScheme;

#[derive(Resource)]
#[resource("00000003-0000-0000-c000-00000000000")]
struct ShortGuid;

fn main() {
    let _ = scopes!["http://graph.microsoft.com/User.Read"];
}
