//! msal-macros through msal-core's re-exports: the generated strings for every resource form,
//! `FromStr`/`Display`/serde round trips, `ALL`, `scopes!`, and (at the type level) that every
//! acquisition builder takes derived scopes, `scopes!`, `&str` and `String` alike.
//!
//! The compile-time rules are pinned by `ui.rs`; no network is used here.

use std::borrow::Cow;
use std::future::IntoFuture;

use msal_core::{
    Account, Authority, ClientCredential, ConfidentialClient, ErrorKind, IntoScopes, PublicClient,
    Resource, Scope, ScopeSet, scopes,
};
use serde::{Deserialize, Serialize};

/// Microsoft Graph, by URL.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[resource("https://graph.microsoft.com")]
enum Graph {
    /// Sign in and read the user's profile.
    #[scope("User.Read")]
    UserRead,
    /// Send mail as the user.
    #[scope("Mail.Send")]
    MailSend,
}

/// Microsoft Graph, by application id.
#[derive(Resource, Debug, PartialEq, Eq)]
#[resource("00000003-0000-0000-c000-000000000000")]
enum GraphById {
    #[scope("User.Read")]
    UserRead,
}

/// A web API by its app id URI.
#[derive(Resource, Debug, PartialEq, Eq)]
#[resource("api://0b2c3d4e-1111-2222-3333-444455556666")]
enum Orders {
    #[scope("Orders.Read")]
    Read,
    #[scope("Orders.Write")]
    Write,
}

/// An app id URI with a path.
#[derive(Resource, Debug, PartialEq, Eq)]
#[resource("api://contoso.com/inventory")]
enum Inventory {
    #[scope("access_as_user")]
    AccessAsUser,
}

/// Azure Resource Manager: its resource id ends in `/`, kept as Entra expects.
#[derive(Resource, Debug, PartialEq, Eq)]
#[resource("https://management.core.windows.net/")]
struct Arm;

/// A resource used through `.default` only, by URL.
#[derive(Resource, Debug, PartialEq, Eq)]
#[resource("https://vault.azure.net")]
struct Vault;

/// A resource used through `.default` only, by bare application id.
#[derive(Resource, Debug, PartialEq, Eq)]
#[resource("00000002-0000-0ff1-ce00-000000000000")]
struct Exchange;

#[test]
fn generated_strings_for_every_resource_form() {
    let cases: [(&dyn Scope, &str); 9] = [
        (&Graph::UserRead, "https://graph.microsoft.com/User.Read"),
        (&Graph::MailSend, "https://graph.microsoft.com/Mail.Send"),
        (
            &GraphById::UserRead,
            "00000003-0000-0000-c000-000000000000/User.Read",
        ),
        (
            &Orders::Read,
            "api://0b2c3d4e-1111-2222-3333-444455556666/Orders.Read",
        ),
        (
            &Orders::Write,
            "api://0b2c3d4e-1111-2222-3333-444455556666/Orders.Write",
        ),
        (
            &Inventory::AccessAsUser,
            "api://contoso.com/inventory/access_as_user",
        ),
        (&Arm, "https://management.core.windows.net//.default"),
        (&Vault, "https://vault.azure.net/.default"),
        (&Exchange, "00000002-0000-0ff1-ce00-000000000000/.default"),
    ];
    for (scope, expected) in cases {
        let s = scope.scope_str();
        assert_eq!(s, expected);
        assert!(matches!(s, Cow::Borrowed(_)), "{expected} is borrowed");
    }
    assert_eq!(
        Graph::UserRead.as_str(),
        "https://graph.microsoft.com/User.Read"
    );
    assert_eq!(Vault.as_str(), "https://vault.azure.net/.default");
}

#[test]
fn default_scopes_for_every_resource_form() {
    assert_eq!(
        Graph::default_scope().to_wire(),
        "https://graph.microsoft.com/.default"
    );
    assert_eq!(
        GraphById::default_scope().to_wire(),
        "00000003-0000-0000-c000-000000000000/.default"
    );
    assert_eq!(
        Orders::default_scope().to_wire(),
        "api://0b2c3d4e-1111-2222-3333-444455556666/.default"
    );
    assert_eq!(
        Inventory::default_scope().to_wire(),
        "api://contoso.com/inventory/.default"
    );
    assert_eq!(
        Arm::default_scope().to_wire(),
        "https://management.core.windows.net//.default"
    );
    // A unit struct's value and its default scope are the same set.
    assert_eq!(Vault.scope_set(), Vault::default_scope());
    assert_eq!(
        *Graph::default_scope(),
        "https://graph.microsoft.com/.default"
            .into_scopes()
            .expect("valid")
    );
}

#[test]
fn derived_sets_borrow_the_static_strings() {
    for g in Graph::ALL {
        let set = g.into_scopes().expect("valid");
        assert_eq!(set.len(), 1);
        assert_eq!(&set, g.scope_set());
        // The scope in the set is the generated `&'static str` itself, not a copy.
        let first = set.iter().next().expect("one scope");
        assert_eq!(first.as_ptr(), g.as_str().as_ptr());
    }
    let by_ref = (&Graph::MailSend).into_scopes().expect("valid");
    assert_eq!(by_ref.to_wire(), "https://graph.microsoft.com/Mail.Send");
    let d = Graph::default_scope().into_scopes().expect("valid");
    assert_eq!(
        d.iter().next().expect("one").as_ptr(),
        Graph::default_scope().iter().next().expect("one").as_ptr()
    );
}

#[test]
fn all_lists_every_value_in_declaration_order() {
    assert_eq!(Graph::ALL, [Graph::UserRead, Graph::MailSend]);
    assert_eq!(Orders::ALL, [Orders::Read, Orders::Write]);
    assert_eq!(Vault::ALL, [Vault]);
    assert_eq!(Arm::ALL.len(), 1);
}

#[test]
fn from_str_takes_the_full_string_or_the_name_case_insensitively() {
    for (input, expected) in [
        ("https://graph.microsoft.com/User.Read", Graph::UserRead),
        ("HTTPS://GRAPH.MICROSOFT.COM/user.read", Graph::UserRead),
        ("User.Read", Graph::UserRead),
        ("mail.send", Graph::MailSend),
    ] {
        assert_eq!(input.parse::<Graph>().expect(input), expected);
    }
    assert_eq!(
        "00000003-0000-0000-c000-000000000000/User.Read"
            .parse::<GraphById>()
            .expect("valid"),
        GraphById::UserRead
    );
    assert_eq!(".default".parse::<Vault>().expect("valid"), Vault);
    assert_eq!(
        "https://vault.azure.net/.DEFAULT"
            .parse::<Vault>()
            .expect("valid"),
        Vault
    );

    for bad in [
        "",
        "Files.Read",
        "https://graph.microsoft.com/.default",
        "https://graph.microsoft.com/User.Read ",
        "https://outlook.office.com/User.Read",
    ] {
        let err = bad.parse::<Graph>().expect_err(bad);
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let msg = err.to_string();
        assert!(msg.contains("is not a scope of `Graph`"), "{msg}");
        assert!(
            msg.contains("`https://graph.microsoft.com/User.Read`"),
            "{msg}"
        );
    }
}

#[test]
fn display_and_from_str_round_trip() {
    for g in Graph::ALL {
        assert_eq!(g.to_string(), g.as_str());
        assert_eq!(g.to_string().parse::<Graph>().expect("round trip"), *g);
    }
    for o in Orders::ALL {
        assert_eq!(&o.to_string().parse::<Orders>().expect("round trip"), o);
    }
    assert_eq!(
        Arm.to_string(),
        "https://management.core.windows.net//.default"
    );
    assert_eq!(Arm.to_string().parse::<Arm>().expect("round trip"), Arm);
    // Width and alignment apply, as for `str`.
    assert_eq!(
        format!("{:>60}|", Graph::UserRead),
        format!("{:>60}|", "https://graph.microsoft.com/User.Read")
    );
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Config {
    scopes: Vec<Graph>,
    backend: Orders,
    vault: Vault,
}

#[test]
fn serde_as_the_full_string() {
    assert_eq!(
        serde_json::to_string(&Graph::UserRead).expect("serialize"),
        r#""https://graph.microsoft.com/User.Read""#
    );
    let config = Config {
        scopes: vec![Graph::UserRead, Graph::MailSend],
        backend: Orders::Write,
        vault: Vault,
    };
    let json = serde_json::to_value(&config).expect("serialize");
    assert_eq!(
        json,
        serde_json::json!({
            "scopes": [
                "https://graph.microsoft.com/User.Read",
                "https://graph.microsoft.com/Mail.Send"
            ],
            "backend": "api://0b2c3d4e-1111-2222-3333-444455556666/Orders.Write",
            "vault": "https://vault.azure.net/.default"
        })
    );
    // Borrowed (from a string) and owned (from a `Value`) input alike.
    let text = json.to_string();
    assert_eq!(
        serde_json::from_str::<Config>(&text).expect("deserialize"),
        config
    );
    assert_eq!(
        serde_json::from_value::<Config>(json).expect("deserialize"),
        config
    );
    // What `FromStr` accepts, deserialization accepts.
    assert_eq!(
        serde_json::from_str::<Vec<Graph>>(
            r#"["user.read", "https://GRAPH.microsoft.com/Mail.Send"]"#
        )
        .expect("deserialize"),
        [Graph::UserRead, Graph::MailSend]
    );
    let err = serde_json::from_str::<Graph>(r#""Files.Read""#).expect_err("unknown scope");
    let msg = err.to_string();
    assert!(
        msg.contains("invalid value: string \"Files.Read\""),
        "{msg}"
    );
    assert!(msg.contains("a scope of `Graph`"), "{msg}");
    assert!(serde_json::from_str::<Graph>("42").is_err());
}

#[test]
fn scopes_macro_is_sorted_checked_and_static() {
    let set: &'static ScopeSet = scopes![
        "https://graph.microsoft.com/Mail.Send",
        "User.Read",
        "api://contoso.com/inventory/access_as_user",
    ];
    assert_eq!(
        set.to_wire(),
        "User.Read api://contoso.com/inventory/access_as_user https://graph.microsoft.com/Mail.Send"
    );
    // The same set the run-time normalisation builds.
    let runtime = ScopeSet::new([
        "api://contoso.com/inventory/access_as_user",
        "https://graph.microsoft.com/Mail.Send",
        "User.Read",
    ])
    .expect("valid");
    assert_eq!(*set, runtime);
    assert!(set.contains("user.read"));
    assert!(scopes![].is_empty());
    assert_eq!(
        *scopes!["https://graph.microsoft.com/.default"],
        *Graph::default_scope()
    );
    // Each expansion is one static: the same call site gives the same set.
    let at = || scopes!["User.Read"] as *const ScopeSet;
    assert_eq!(at(), at());
}

fn assert_send<T: Send>(_: &T) {}

/// Builds (without awaiting) the future of `$e` for each scope form bound to `$s`.
macro_rules! with_every_scope_form {
    (|$s:ident| $e:expr) => {{
        {
            let $s = Graph::UserRead;
            let f = $e;
            assert_send(&f);
        }
        {
            let $s = &Graph::MailSend;
            let f = $e;
            assert_send(&f);
        }
        {
            let $s = [Graph::UserRead, Graph::MailSend];
            let f = $e;
            assert_send(&f);
        }
        {
            let $s = &[Graph::UserRead][..];
            let f = $e;
            assert_send(&f);
        }
        {
            let $s = vec![Orders::Read, Orders::Write];
            let f = $e;
            assert_send(&f);
        }
        {
            let $s = Graph::default_scope();
            let f = $e;
            assert_send(&f);
        }
        {
            let $s = Vault;
            let f = $e;
            assert_send(&f);
        }
        {
            let $s = scopes!["User.Read", "https://graph.microsoft.com/Mail.Send"];
            let f = $e;
            assert_send(&f);
        }
        {
            let $s = "https://graph.microsoft.com/User.Read";
            let f = $e;
            assert_send(&f);
        }
        {
            let $s = String::from("User.Read Mail.Send");
            let f = $e;
            assert_send(&f);
        }
        {
            let $s = ["User.Read", "Mail.Send"];
            let f = $e;
            assert_send(&f);
        }
    }};
}

fn confidential() -> ConfidentialClient {
    ConfidentialClient::builder(
        "00000000-0000-0000-0000-000000000001",
        ClientCredential::secret("not-a-real-secret"),
    )
    .authority(Authority::tenant("contoso.onmicrosoft.com"))
    .build()
    .expect("no I/O at build")
}

fn public() -> PublicClient {
    PublicClient::builder("00000000-0000-0000-0000-000000000002")
        .authority(Authority::organizations())
        .build()
        .expect("no I/O at build")
}

#[test]
fn every_acquire_builder_takes_every_scope_form() {
    let cca = confidential();
    let pca = public();

    // The design's two headline uses.
    let f = cca
        .acquire_token_for_client(Graph::default_scope())
        .into_future();
    assert_send(&f);
    let f = pca
        .auth_code_flow([Graph::UserRead, Graph::MailSend])
        .initiate();
    assert_send(&f);

    with_every_scope_form!(|s| cca
        .acquire_token_for_client(s)
        .tenant("fabrikam.onmicrosoft.com")
        .into_future());
    with_every_scope_form!(|s| cca
        .acquire_token_on_behalf_of("eyJ.assertion.x", s)
        .into_future());
    with_every_scope_form!(|s| cca
        .acquire_token_by_authorization_code("code", s)
        .into_future());
    with_every_scope_form!(|s| cca.acquire_token_by_refresh_token("rt", s).into_future());
    with_every_scope_form!(|s| cca
        .auth_code_flow(s)
        .redirect_uri("https://app/cb")
        .initiate());
    with_every_scope_form!(|s| pca
        .auth_code_flow(Graph::UserRead)
        .extra_scopes_to_consent(s)
        .initiate());
    with_every_scope_form!(|s| pca
        .acquire_token_by_username_password("u@contoso.com", "p", s)
        .into_future());
    with_every_scope_form!(|s| pca
        .acquire_token_interactive(s)
        .open_browser(false)
        .into_future());
    with_every_scope_form!(|s| pca
        .acquire_token_interactive(Graph::UserRead)
        .extra_scopes_to_consent(s)
        .into_future());
    with_every_scope_form!(|s| pca.device_code_flow(s).initiate());

    // `acquire_token_silent` needs an account, which only a sign-in yields: type-check it.
    let _: fn(&PublicClient, &ConfidentialClient, &Account) = silent_takes_every_scope_form;
}

fn silent_takes_every_scope_form(pca: &PublicClient, cca: &ConfidentialClient, account: &Account) {
    with_every_scope_form!(|s| pca.acquire_token_silent(s, account).into_future());
    with_every_scope_form!(|s| cca.acquire_token_silent(s, account).into_future());
}

#[tokio::test]
async fn an_empty_set_fails_before_any_request() {
    let cca = confidential();
    let err = cca
        .acquire_token_for_client(scopes![])
        .await
        .expect_err("client credentials need a scope");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}
