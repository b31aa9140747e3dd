//! Proof-of-possession tokens: a token request with `token_type=pop` and `req_cnf` (base64url
//! of `{"kid":"<JWK thumbprint>"}`, as MSAL .NET sends it in `PopAuthenticationOperation.cs`)
//! is answered as Entra ID answers it, with `token_type: "pop"` and an access token carrying
//! `cnf: {"kid": "<thumbprint>", "xms_ksl": "sw"}`. The token is spent as a signed HTTP request
//! whose `cnf.jwk` hashes to that thumbprint (see the vault). Any grant can ask for one.

use serde_json::{Map, Value, json};

use super::TokenRequest;
use crate::jwt::{Jwt, b64url_decode};
use crate::respond::OAuthError;

/// The `token_type` that asks for a proof-of-possession token.
pub(crate) const POP: &str = "pop";

/// The key id a request binds its token to, when it asks for a PoP token (`token_type=pop`).
/// Checked before the grant runs, so a bad request consumes no code.
pub(crate) fn requested(ctx: &TokenRequest<'_>) -> Result<Option<String>, OAuthError> {
    if !ctx
        .param("token_type")
        .is_some_and(|t| t.eq_ignore_ascii_case(POP))
    {
        return Ok(None);
    }
    let req_cnf = ctx.required("req_cnf")?;
    let bad = |why: &str| {
        OAuthError::bad(
            "invalid_request",
            50_013,
            format!("The provided value for the input parameter 'req_cnf' is not valid: {why}."),
        )
    };
    let decoded = b64url_decode(req_cnf).ok_or_else(|| bad("not base64url"))?;
    let cnf: Map<String, Value> =
        serde_json::from_slice(&decoded).map_err(|_| bad("not a JSON object"))?;
    let kid = cnf
        .get("kid")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty() && k.len() <= 128)
        .ok_or_else(|| bad("no 'kid'"))?;
    Ok(Some(kid.to_owned()))
}

/// Turns a grant's Bearer answer into a PoP answer bound to `kid`: the access token re-signed
/// with a `cnf` claim, and `token_type: "pop"`.
pub(crate) fn answer(ctx: &TokenRequest<'_>, kid: &str, body: Value) -> Value {
    let Value::Object(mut out) = body else {
        return body;
    };
    let Some(jwt) = out
        .get("access_token")
        .and_then(Value::as_str)
        .and_then(Jwt::parse)
    else {
        return Value::Object(out);
    };
    let mut claims = jwt.claims;
    claims.insert("cnf".into(), json!({"kid": kid, "xms_ksl": "sw"}));
    let token = ctx.state.signer.sign("JWT", &Value::Object(claims));
    out.insert("access_token".into(), token.into());
    out.insert("token_type".into(), POP.into());
    Value::Object(out)
}
