//! Parsing delegated scopes (`openid profile offline_access` plus one resource's scopes).

use crate::respond::OAuthError;
use crate::seeds;
use crate::state::{Registry, Resource};

/// The parsed `scope` of a delegated grant.
#[derive(Debug, Clone)]
pub(crate) struct Delegated {
    pub(crate) openid: bool,
    pub(crate) offline_access: bool,
    pub(crate) profile: bool,
    pub(crate) email: bool,
    pub(crate) resource: Resource,
    /// The `scope` of the response: the resource scopes, in the form requested.
    pub(crate) granted: Vec<String>,
    /// The `scp` claim values (short names).
    pub(crate) scp: Vec<String>,
}

fn invalid_scope(scope: &str) -> OAuthError {
    OAuthError::bad(
        "invalid_scope",
        70_011,
        format!(
            "The provided request must include a 'scope' input parameter. The provided value for \
             the input parameter 'scope' is not valid. The scope {scope} is not valid."
        ),
    )
}

/// Parses a space-separated delegated scope string. With no resource scope at all, the token is
/// for Microsoft Graph `User.Read` (as Entra does).
pub(crate) fn parse(reg: &Registry, raw: &str) -> Result<Delegated, OAuthError> {
    let mut openid = false;
    let mut offline_access = false;
    let mut profile = false;
    let mut email = false;
    let mut resource: Option<Resource> = None;
    let mut granted: Vec<String> = Vec::new();
    let mut scp: Vec<String> = Vec::new();
    for tok in raw.split_whitespace() {
        match tok.to_ascii_lowercase().as_str() {
            "openid" => {
                openid = true;
                continue;
            }
            "offline_access" => {
                offline_access = true;
                continue;
            }
            "profile" => {
                profile = true;
                continue;
            }
            "email" => {
                email = true;
                continue;
            }
            _ => {}
        }
        let (ident, name, short) = match tok.rsplit_once('/') {
            Some((r, n)) => (r.trim_end_matches('/'), n, false),
            None => (seeds::GRAPH_RESOURCE, tok, true),
        };
        let res = reg.resource(ident).ok_or_else(|| {
            OAuthError::bad(
                "invalid_resource",
                500_011,
                format!("The resource principal named {ident} was not found in the tenant."),
            )
        })?;
        if let Some(current) = &resource
            && current.aud != res.aud
        {
            return Err(OAuthError::bad(
                "invalid_scope",
                28_000,
                format!(
                    "Provided value for the input parameter scope is not valid because it \
                     contains more than one resource. Scope {raw} is not valid."
                ),
            ));
        }
        let names: Vec<String> = if name == ".default" {
            res.scopes.clone()
        } else {
            vec![
                res.scope(name)
                    .ok_or_else(|| invalid_scope(tok))?
                    .to_string(),
            ]
        };
        for n in names {
            let form = if short {
                n.clone()
            } else {
                format!("{ident}/{n}")
            };
            if !granted.contains(&form) {
                granted.push(form);
            }
            if !scp.contains(&n) {
                scp.push(n);
            }
        }
        // Entra echoes a requested `.default` after the scopes it stands for
        // ("…/user_impersonation …/.default"), so a later request for `.default` finds the
        // token in a cache (seen in the Azure CLI's MSAL cache, Azure/azure-cli#32931).
        if name == ".default" && !short && !granted.iter().any(|g| g == tok) {
            granted.push(tok.to_string());
        }
        resource = Some(res);
    }
    let resource = match resource {
        Some(r) => r,
        None => {
            granted.push("User.Read".into());
            scp.push("User.Read".into());
            reg.resource(seeds::GRAPH_RESOURCE)
                .ok_or_else(|| invalid_scope(raw))?
        }
    };
    Ok(Delegated {
        openid,
        offline_access,
        profile,
        email,
        resource,
        granted,
        scp,
    })
}

impl Delegated {
    /// The `scope` of a sign-in grant's response: the granted resource scopes, then, for
    /// Microsoft Graph (which owns them), the requested `profile`, `openid` and `email`, as
    /// Entra answers (`"User.Read profile openid email"`). `offline_access` is never echoed.
    pub(crate) fn sign_in_scope(&self) -> String {
        let mut out = self.granted.clone();
        if self
            .resource
            .aud
            .eq_ignore_ascii_case(seeds::GRAPH_RESOURCE)
        {
            for (asked, name) in [
                (self.profile, "profile"),
                (self.openid, "openid"),
                (self.email, "email"),
            ] {
                if asked {
                    out.push(name.to_string());
                }
            }
        }
        out.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let reg = Registry::seeded();
        let d = parse(
            &reg,
            "https://graph.microsoft.com/user.read offline_access openid profile",
        )
        .unwrap();
        assert!(d.openid && d.offline_access);
        assert_eq!(d.granted, ["https://graph.microsoft.com/User.Read"]);
        assert_eq!(d.scp, ["User.Read"]);
        let d = parse(&reg, "https://graph.microsoft.com/.default").unwrap();
        assert_eq!(d.scp, ["User.Read", "Mail.Send", "Mail.Read"]);
        assert_eq!(
            d.granted.last().map(String::as_str),
            Some("https://graph.microsoft.com/.default"),
            "Entra echoes the .default it was asked for"
        );
        let e = parse(
            &reg,
            "https://graph.microsoft.com/User.Read https://management.azure.com/user_impersonation",
        )
        .unwrap_err();
        assert_eq!(e.code, 28_000);
        assert_eq!(
            parse(&reg, "https://graph.microsoft.com/Nope")
                .unwrap_err()
                .code,
            70_011
        );
        assert_eq!(
            parse(&reg, "https://nope.example/x").unwrap_err().code,
            500_011
        );
        assert_eq!(parse(&reg, "User.Read").unwrap().granted, ["User.Read"]);
        assert_eq!(
            parse(&reg, "User.Read offline_access openid profile")
                .unwrap()
                .sign_in_scope(),
            "User.Read profile openid"
        );
        assert_eq!(
            parse(
                &reg,
                "api://7d1f2e3c-4b5a-4968-8776-a5b4c3d2e1f0/access_as_user openid"
            )
            .unwrap()
            .sign_in_scope(),
            "api://7d1f2e3c-4b5a-4968-8776-a5b4c3d2e1f0/access_as_user"
        );
    }
}
