//! The rules a scope or a resource must follow, checked after parsing.
//!
//! The same rules hold at run time in msal-core's `ScopeSet` (no empty scope, no whitespace or
//! control character, case-insensitive comparison); the macros add the rules that only make
//! sense for a literal list (reserved scopes, duplicates, `.default` mixing).

use syn::LitStr;

use crate::ast::{Container, Data, ScopeList};
use crate::ctxt::Ctxt;

/// The scopes MSAL adds to every user-token request by itself.
pub(crate) const RESERVED: [&str; 3] = ["openid", "profile", "offline_access"];

/// The name of the scope that stands for every permission granted to the app.
pub(crate) const DEFAULT: &str = ".default";

/// The resource a scope without one (such as `User.Read`) is for.
const GRAPH: &str = "https://graph.microsoft.com";

/// Checks a type deriving `Resource`: its resource and its scopes.
pub(crate) fn check_container(cx: &Ctxt, cont: &Container<'_>) {
    let resource = cont.attrs.resource.as_ref().map(|lit| (lit, lit.value()));
    if let Some((lit, value)) = &resource
        && let Some(problem) = resource_problem(value)
    {
        cx.error_spanned_by(lit, format!("invalid resource `{value}`: {problem}"));
    }
    let Data::Enum(variants) = &cont.data else {
        return;
    };
    let mut seen: Vec<(&syn::Ident, String)> = Vec::new();
    let mut default: Option<&LitStr> = None;
    for v in variants {
        let Some(lit) = &v.attrs.scope else {
            continue;
        };
        let name = lit.value();
        if let Some(problem) = scope_problem(&name, Form::Name) {
            cx.error_spanned_by(lit, problem);
            continue;
        }
        if let Some((first, first_name)) = seen.iter().find(|(_, n)| n.eq_ignore_ascii_case(&name))
        {
            cx.error_spanned_by(
                lit,
                format!(
                    "duplicate scope `{name}`: variant `{first}` already has `{first_name}` \
                     (scopes compare case-insensitively)"
                ),
            );
            continue;
        }
        if name.eq_ignore_ascii_case(DEFAULT) {
            default = Some(lit);
        }
        seen.push((v.ident, name));
    }
    if let Some(lit) = default
        && seen.len() > 1
    {
        cx.error_spanned_by(
            lit,
            format!(
                "`.default` cannot be combined with other scopes of the same resource \
                 (Entra rejects such a request with AADSTS70011); remove this variant and use \
                 `{}::default_scope()`",
                cont.ident
            ),
        );
    }
}

/// Checks the list given to `scopes!`.
pub(crate) fn check_scope_list(cx: &Ctxt, list: &ScopeList) {
    // (literal, value, resource key for grouping, is `.default`)
    let mut seen: Vec<(&LitStr, String, String, bool)> = Vec::new();
    for lit in &list.scopes {
        let value = lit.value();
        if let Some(problem) = scope_problem(&value, Form::Full) {
            cx.error_spanned_by(lit, problem);
            continue;
        }
        if let Some((_, first, _, _)) = seen.iter().find(|s| s.1.eq_ignore_ascii_case(&value)) {
            cx.error_spanned_by(
                lit,
                format!(
                    "duplicate scope `{value}`: already listed as `{first}` \
                     (scopes compare case-insensitively)"
                ),
            );
            continue;
        }
        let (resource, name) = split_scope(&value);
        let key = resource.unwrap_or(GRAPH).to_ascii_lowercase();
        let is_default = name.eq_ignore_ascii_case(DEFAULT);
        seen.push((lit, value, key, is_default));
    }

    let mut first_default: Option<(&str, &str)> = None; // (resource key, scope)
    let mut reported_mixing: Vec<&str> = Vec::new();
    for (lit, value, key, is_default) in &seen {
        if !is_default {
            continue;
        }
        if let Some((first_key, first_scope)) = first_default {
            if first_key != key {
                cx.error_spanned_by(
                    lit,
                    format!(
                        "`.default` scopes of two resources (`{first_scope}` and `{value}`): \
                         a client-credentials request takes the `.default` of one resource; \
                         make one request per resource"
                    ),
                );
            }
        } else {
            first_default = Some((key, value));
        }
        let others = seen.iter().any(|(_, _, k, d)| !d && k == key);
        if others && !reported_mixing.contains(&key.as_str()) {
            reported_mixing.push(key);
            cx.error_spanned_by(
                lit,
                format!(
                    "`{value}` mixes `.default` with other scopes of the same resource \
                     (Entra rejects such a request with AADSTS70011); ask for `.default` alone \
                     or for the individual scopes"
                ),
            );
        }
    }
}

/// How a scope string is written.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum Form {
    /// A name relative to the type's resource (`#[scope("User.Read")]`).
    Name,
    /// A complete scope (`scopes!["https://graph.microsoft.com/User.Read"]`): a bare name
    /// such as `User.Read` (for Microsoft Graph), or a resource, `/` and a name.
    Full,
}

/// What is wrong with a scope string, if anything.
pub(crate) fn scope_problem(scope: &str, form: Form) -> Option<String> {
    if scope.is_empty() {
        return Some(match form {
            Form::Name => {
                "empty scope: write the scope's name, e.g. `#[scope(\"User.Read\")]`".into()
            }
            Form::Full => "empty scope: write the scope, e.g. `\"User.Read\"`".into(),
        });
    }
    if scope.chars().any(|c| c.is_whitespace() || c.is_control()) {
        let hint = match form {
            Form::Name => "declare one variant per scope",
            Form::Full => "write each scope as its own string",
        };
        return Some(format!(
            "scope {:?} contains whitespace or a control character; {hint}",
            scope
        ));
    }
    if let Some(r) = RESERVED.iter().find(|r| r.eq_ignore_ascii_case(scope)) {
        return Some(format!(
            "`{r}` is a reserved scope: MSAL adds `openid`, `profile` and `offline_access` \
             to user-token requests itself; remove it"
        ));
    }
    match form {
        Form::Name => {
            if scope.contains("://") || scope.starts_with('/') {
                return Some(format!(
                    "`#[scope]` takes the scope's name relative to the resource, \
                     not `{scope}`: the resource comes from `#[resource]`"
                ));
            }
        }
        Form::Full => {
            if let Some(after) = scope_after_scheme(scope)
                && !after.contains('/')
            {
                return Some(format!(
                    "`{scope}` is a resource, not a scope; did you mean `{scope}/.default`?"
                ));
            }
            let (resource, name) = split_scope(scope);
            if let Some(resource) = resource {
                if name.is_empty() {
                    return Some(format!(
                        "scope `{scope}` names no scope after the resource; \
                         did you mean `{scope}.default`?"
                    ));
                }
                if let Some(problem) = resource_problem(resource) {
                    return Some(format!(
                        "invalid resource `{resource}` in scope `{scope}`: {problem}"
                    ));
                }
            }
        }
    }
    None
}

/// The text after `scheme://`, when `s` has a scheme.
fn scope_after_scheme(s: &str) -> Option<&str> {
    let (scheme, rest) = s.split_once("://")?;
    (!scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)))
    .then_some(rest)
}

/// Splits a full scope into its resource (before the last `/`) and its name. A bare name has
/// no resource (it is for Microsoft Graph).
pub(crate) fn split_scope(scope: &str) -> (Option<&str>, &str) {
    match scope.rsplit_once('/') {
        Some((resource, name)) => (Some(resource), name),
        None => (None, scope),
    }
}

/// The full scope string for `name` of `resource`: `<resource>/<name>`. A resource ending in
/// `/` (such as `https://management.core.windows.net/`) keeps it, as Entra expects.
pub(crate) fn full_scope(resource: &str, name: &str) -> String {
    format!("{resource}/{name}")
}

/// The accepted forms of a resource, for messages.
const FORMS: &str = "expected an absolute `https://` or `api://` URI without query or fragment, \
                     or an application id GUID";

/// What is wrong with a resource, if anything: it must be an absolute `https://` or
/// `api://` URI without query or fragment, or a GUID.
pub(crate) fn resource_problem(resource: &str) -> Option<String> {
    if resource.is_empty() {
        return Some(format!("the resource is empty; {FORMS}"));
    }
    if resource
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Some("it contains whitespace or a control character".into());
    }
    if let Some(i) = resource.find('?') {
        return Some(format!("it has a query (`{}`)", &resource[i..]));
    }
    if let Some(i) = resource.find('#') {
        return Some(format!("it has a fragment (`{}`)", &resource[i..]));
    }
    if is_guid(resource) {
        return None;
    }
    let lower = resource.to_ascii_lowercase();
    let rest = if let Some(rest) = lower.strip_prefix("https://") {
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            return Some("it has no host".into());
        }
        if authority.contains('@') {
            return Some("it has user information (`...@`) before the host".into());
        }
        if !authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~:[]".contains(c))
        {
            return Some(format!("`{authority}` is not a host name"));
        }
        if !authority.ends_with(']')
            && let Some((_, port)) = authority.rsplit_once(':')
            && (port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()))
        {
            return Some(format!("`{port}` is not a port number"));
        }
        rest
    } else if let Some(rest) = lower.strip_prefix("api://") {
        if rest.is_empty() || rest.starts_with('/') {
            return Some("it names nothing after `api://`".into());
        }
        rest
    } else if lower.starts_with("http://") {
        return Some("plain `http://` is not allowed, use `https://`".into());
    } else if lower.contains('-') && lower.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Some("it is not a well-formed GUID (8-4-4-4-12 hexadecimal digits)".into());
    } else if lower.contains("://") {
        return Some(format!("its scheme is neither `https` nor `api`; {FORMS}"));
    } else {
        return Some(format!("it is neither an absolute URI nor a GUID; {FORMS}"));
    };
    if let Some((_, last)) = rest.rsplit_once('/')
        && last.eq_ignore_ascii_case(DEFAULT)
    {
        return Some("it ends with the `/.default` scope; give the resource alone".into());
    }
    None
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hexadecimal digits.
pub(crate) fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Container;
    use quote::quote;
    use syn::{DeriveInput, parse_quote};

    fn derive_errors(input: DeriveInput) -> Vec<String> {
        let cx = Ctxt::new();
        if let Some(c) = Container::from_ast(&cx, &input) {
            check_container(&cx, &c);
        }
        match cx.check() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    fn list_errors(tokens: proc_macro2::TokenStream) -> Vec<String> {
        let cx = Ctxt::new();
        let list = ScopeList::parse(&cx, tokens);
        check_scope_list(&cx, &list);
        match cx.check() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn resources_in_every_accepted_form() {
        for ok in [
            "https://graph.microsoft.com",
            "https://management.core.windows.net/",
            "https://contoso.com:8443/api/v1",
            "HTTPS://Graph.Microsoft.com",
            "api://0b2c3d4e-1111-2222-3333-444455556666",
            "api://contoso.com/orders",
            "00000003-0000-0000-c000-000000000000",
            "https://[::1]:443",
        ] {
            assert_eq!(resource_problem(ok), None, "{ok}");
        }
    }

    #[test]
    fn resources_that_do_not_parse() {
        for (bad, why) in [
            ("", "empty"),
            ("http://graph.microsoft.com", "`https://`"),
            (
                "graph.microsoft.com",
                "neither an absolute URI nor a GUID; expected",
            ),
            ("https://graph.microsoft.com?x=1", "query"),
            ("https://graph.microsoft.com#top", "fragment"),
            ("https://", "no host"),
            ("https://user@host", "user information"),
            ("https://host:abc", "port"),
            ("https://ho st", "whitespace"),
            ("https://gra%ph", "not a host name"),
            ("api://", "nothing after"),
            ("urn:contoso", "neither an absolute URI"),
            ("ftp://contoso.com", "scheme"),
            ("00000003-0000-0000-c000-00000000000", "GUID"),
            ("https://graph.microsoft.com/.default", "`/.default`"),
        ] {
            let p = resource_problem(bad).unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(p.contains(why), "{bad:?}: {p}");
        }
    }

    #[test]
    fn guids() {
        assert!(is_guid("00000003-0000-0000-c000-000000000000"));
        assert!(is_guid("0B2C3D4E-1111-2222-3333-444455556666"));
        assert!(!is_guid("00000003-0000-0000-c000-00000000000g"));
        assert!(!is_guid("000000030000-0000-c000-0000000000000"));
    }

    #[test]
    fn scope_names() {
        assert_eq!(scope_problem("User.Read", Form::Name), None);
        assert_eq!(scope_problem(".default", Form::Name), None);
        assert_eq!(scope_problem("user_impersonation", Form::Name), None);
        assert!(scope_problem("", Form::Name).is_some_and(|p| p.starts_with("empty scope")));
        assert!(scope_problem("User Read", Form::Name).is_some_and(|p| p.contains("whitespace")));
        assert!(scope_problem("a\u{7}", Form::Name).is_some_and(|p| p.contains("control")));
        assert!(scope_problem("a\u{a0}b", Form::Name).is_some_and(|p| p.contains("whitespace")));
        assert!(scope_problem("OpenID", Form::Name).is_some_and(|p| p.contains("reserved")));
        assert!(
            scope_problem("https://graph.microsoft.com/User.Read", Form::Name)
                .is_some_and(|p| p.contains("relative to the resource"))
        );
    }

    #[test]
    fn full_scopes() {
        for ok in [
            "User.Read",
            "https://graph.microsoft.com/User.Read",
            "https://management.core.windows.net//.default",
            "api://contoso.com/orders/Orders.Read",
            "00000003-0000-0000-c000-000000000000/User.Read",
        ] {
            assert_eq!(scope_problem(ok, Form::Full), None, "{ok}");
        }
        for (bad, why) in [
            ("offline_access", "reserved"),
            ("https://graph.microsoft.com", "is a resource, not a scope"),
            ("https://graph.microsoft.com/", "names no scope"),
            ("http://graph.microsoft.com/User.Read", "invalid resource"),
            ("contoso/Read", "invalid resource"),
        ] {
            let p = scope_problem(bad, Form::Full).unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(p.contains(why), "{bad:?}: {p}");
        }
    }

    #[test]
    fn split_and_join() {
        assert_eq!(
            split_scope("https://graph.microsoft.com/User.Read"),
            (Some("https://graph.microsoft.com"), "User.Read")
        );
        assert_eq!(
            split_scope("https://management.core.windows.net//.default"),
            (Some("https://management.core.windows.net/"), ".default")
        );
        assert_eq!(split_scope("User.Read"), (None, "User.Read"));
        assert_eq!(
            full_scope("00000003-0000-0000-c000-000000000000", "User.Read"),
            "00000003-0000-0000-c000-000000000000/User.Read"
        );
        assert_eq!(
            full_scope("https://management.core.windows.net/", ".default"),
            "https://management.core.windows.net//.default"
        );
    }

    #[test]
    fn a_valid_enum_passes() {
        let e = derive_errors(parse_quote! {
            #[resource("https://graph.microsoft.com")]
            enum Graph { #[scope("User.Read")] UserRead, #[scope("Mail.Send")] MailSend }
        });
        assert!(e.is_empty(), "{e:#?}");
    }

    #[test]
    fn every_scope_problem_of_an_enum_at_once() {
        let e = derive_errors(parse_quote! {
            #[resource("http://graph.microsoft.com")]
            enum Graph {
                #[scope("")] Empty,
                #[scope("User Read")] Spaced,
                #[scope("openid")] OpenId,
                #[scope("User.Read")] UserRead,
                #[scope("user.read")] UserReadAgain,
                #[scope(".default")] Default,
            }
        });
        assert_eq!(e.len(), 6, "{e:#?}");
        assert!(e[0].starts_with("invalid resource `http://graph.microsoft.com`"));
        assert!(e[1].starts_with("empty scope"));
        assert!(e[2].contains("whitespace"));
        assert!(e[3].starts_with("`openid` is a reserved scope"));
        assert!(e[4].starts_with("duplicate scope `user.read`: variant `UserRead`"));
        assert!(e[5].starts_with("`.default` cannot be combined"));
        assert!(e[5].contains("AADSTS70011"));
    }

    #[test]
    fn a_lone_default_variant_is_fine() {
        let e = derive_errors(parse_quote! {
            #[resource("api://contoso.com/orders")]
            enum Orders { #[scope(".default")] All }
        });
        assert!(e.is_empty(), "{e:#?}");
    }

    #[test]
    fn scope_lists() {
        assert!(
            list_errors(quote!("User.Read", "https://graph.microsoft.com/Mail.Send")).is_empty()
        );
        assert!(list_errors(quote!("https://graph.microsoft.com/.default")).is_empty());
        assert!(list_errors(quote!()).is_empty());

        let e = list_errors(quote!("", "a b", "profile", "User.Read", "USER.READ"));
        assert_eq!(e.len(), 4, "{e:#?}");
        assert!(e[3].starts_with("duplicate scope `USER.READ`: already listed as `User.Read`"));

        let e = list_errors(quote!(
            "https://graph.microsoft.com/.default",
            "https://graph.microsoft.com/User.Read",
            "https://GRAPH.microsoft.com/Mail.Send"
        ));
        assert_eq!(e.len(), 1, "{e:#?}");
        assert!(e[0].contains("mixes `.default` with other scopes"));

        // A bare name is for Microsoft Graph.
        let e = list_errors(quote!("User.Read", "https://graph.microsoft.com/.default"));
        assert_eq!(e.len(), 1, "{e:#?}");

        let e = list_errors(quote!(
            "https://graph.microsoft.com/.default",
            "api://contoso.com/orders/.default"
        ));
        assert_eq!(e.len(), 1, "{e:#?}");
        assert!(e[0].starts_with("`.default` scopes of two resources"));

        // Different resources without `.default` are left to Entra.
        assert!(
            list_errors(quote!("User.Read", "api://contoso.com/orders/Orders.Read")).is_empty()
        );
    }
}
