//! `scopes!` in every position an expression of type `&'static ScopeSet` can take.

use msal_core::{IntoScopes, ScopeSet, scopes};

static READ: &ScopeSet = scopes!["User.Read"];

fn generic<T: Default>() -> (&'static ScopeSet, T) {
    (
        scopes!["https://graph.microsoft.com/Mail.Send"],
        T::default(),
    )
}

fn takes(_: impl IntoScopes) {}

fn main() {
    let none: &'static ScopeSet = scopes![];
    assert!(none.is_empty());
    let set = scopes![
        "User.Read",
        "https://graph.microsoft.com/Mail.Send",
        "api://contoso.com/orders/Orders.Read",
        "00000003-0000-0000-c000-000000000000/Files.Read",
    ];
    assert_eq!(set.len(), 4);
    takes(set);
    takes(READ);
    takes(scopes!["https://graph.microsoft.com/.default"]);
    takes(scopes!["https://management.core.windows.net//.default",]);
    let (s, ()) = generic::<()>();
    takes(s);
}
