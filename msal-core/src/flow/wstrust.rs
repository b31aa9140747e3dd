//! WS-Trust for federated users' username/password sign-in, as MSAL Python 1.39 does it
//! (msal/application.py `_acquire_token_by_username_password_federated`, msal/mex.py,
//! msal/wstrust_request.py, msal/wstrust_response.py):
//!
//! 1. user realm discovery answered `Federated` with a `federation_metadata_url`: fetch that
//!    WS-MetadataExchange document and pick a username/password endpoint from it (the
//!    WS-Trust 1.3 one when listed, else the first; [`parse_mex`]). Without a metadata URL, the
//!    realm's `federation_active_auth_url` is used, its version told by its path;
//! 2. send it a SOAP `RequestSecurityToken` with the user's name and password in a
//!    WS-Security `UsernameToken` ([`build_rst`]), for the realm's `cloud_audience_urn`;
//! 3. take the SAML assertion out of the `RequestSecurityTokenResponse`, or the SOAP fault
//!    ([`parse_rstr`]);
//! 4. the caller redeems it with the SAML bearer grant (RFC 7522): `saml2-bearer` for SAML 2.0,
//!    `saml1_1-bearer` for SAML 1.1, the assertion base64url-encoded without padding (RFC 7522
//!    §2.1, as msal/oauth2cli/oauth2.py `encode_saml_assertion`).
//!
//! XML is parsed with roxmltree (no DTDs, a node limit) from bodies of at most
//! [`MAX_XML_BYTES`]; every request has a deadline. The assertion is passed on byte for byte as
//! the server sent it (its signature covers its exact text) and is not verified here: Entra ID
//! verifies it.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result, ServiceError};
use crate::http::HttpContext;

/// WS-Trust 1.3's issue action (msal/mex.py `Mex.ACTION_13`).
pub(crate) const ACTION_13: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue";
/// WS-Trust 2005's issue action (msal/mex.py `Mex.ACTION_2005`).
pub(crate) const ACTION_2005: &str = "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue";
/// `grant_type` for a SAML 2.0 assertion (RFC 7522 §2.1).
pub(crate) const GRANT_SAML2: &str = "urn:ietf:params:oauth:grant-type:saml2-bearer";
/// `grant_type` for a SAML 1.1 assertion (Microsoft's, msal/application.py).
pub(crate) const GRANT_SAML1_1: &str = "urn:ietf:params:oauth:grant-type:saml1_1-bearer";
/// The audience used when user realm discovery names none (msal/application.py).
pub(crate) const DEFAULT_AUDIENCE: &str = "urn:federation:MicrosoftOnline";

/// The largest MEX document or WS-Trust response read.
pub(crate) const MAX_XML_BYTES: usize = 1024 * 1024;
/// The most XML nodes parsed from one document.
const MAX_XML_NODES: u32 = 100_000;
/// How long each request to the federation server may take.
pub(crate) const FEDERATION_TIMEOUT: Duration = Duration::from_secs(30);

const NS_WSDL: &str = "http://schemas.xmlsoap.org/wsdl/";
const NS_SP: &str = "http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702";
const NS_SP2005: &str = "http://schemas.xmlsoap.org/ws/2005/07/securitypolicy";
const NS_WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
const NS_WSA10: &str = "http://www.w3.org/2005/08/addressing";
const NS_SOAP12_WSDL: &str = "http://schemas.xmlsoap.org/wsdl/soap12/";
const NS_WSP: &str = "http://schemas.xmlsoap.org/ws/2004/09/policy";
const NS_SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";
const NS_TRUST13: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512";
const NS_TRUST2005: &str = "http://schemas.xmlsoap.org/ws/2005/02/trust";
const SOAP_HTTP_TRANSPORT: &str = "http://schemas.xmlsoap.org/soap/http";

/// A WS-Trust username/password endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// Its `https` address.
    pub(crate) address: String,
    /// Its SOAP action: [`ACTION_13`] or [`ACTION_2005`] (anything else is refused when sending).
    pub(crate) action: String,
}

/// A SAML assertion from a `RequestSecurityTokenResponse`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Assertion {
    /// The assertion's XML, exactly as the server sent it.
    pub(crate) token: String,
    /// The grant that redeems it ([`GRANT_SAML2`] or [`GRANT_SAML1_1`]).
    pub(crate) grant_type: &'static str,
}

impl std::fmt::Debug for Assertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assertion")
            .field("token", &"<redacted>")
            .field("grant_type", &self.grant_type)
            .finish()
    }
}

impl Assertion {
    /// The `assertion` form field: base64url without padding (RFC 7522 §2.1).
    pub(crate) fn encoded(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.token.as_bytes())
    }
}

fn parse_xml(text: &str) -> std::result::Result<roxmltree::Document<'_>, roxmltree::Error> {
    roxmltree::Document::parse_with_options(
        text,
        roxmltree::ParsingOptions {
            allow_dtd: false,
            nodes_limit: MAX_XML_NODES,
            ..Default::default()
        },
    )
}

fn children<'a, 'i: 'a>(
    node: roxmltree::Node<'a, 'i>,
    ns: &'a str,
    local: &'a str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> + 'a {
    node.children()
        .filter(move |n| n.is_element() && n.has_tag_name((ns, local)))
}

fn child<'a, 'i: 'a>(
    node: roxmltree::Node<'a, 'i>,
    ns: &'a str,
    local: &'a str,
) -> Option<roxmltree::Node<'a, 'i>> {
    children(node, ns, local).next()
}

/// Whether `node` has a descendant chain matching `path` (each step any matching child).
fn has_path(node: roxmltree::Node<'_, '_>, path: &[(&str, &str)]) -> bool {
    match path.split_first() {
        None => true,
        Some(((ns, local), rest)) => children(node, ns, local).any(|c| has_path(c, rest)),
    }
}

/// The `#Id`s of the username/password policies: a top-level `wsp:Policy` with a
/// WS-SecurityPolicy 1.2 `SignedEncryptedSupportingTokens` username token and transport
/// binding, or a WS-SecurityPolicy 2005 `SignedSupportingTokens` one (msal/mex.py
/// `_get_username_password_policy_ids`).
fn username_policy_ids(root: roxmltree::Node<'_, '_>) -> Vec<String> {
    let shapes: [(&str, &str); 2] = [
        (NS_SP, "SignedEncryptedSupportingTokens"),
        (NS_SP2005, "SignedSupportingTokens"),
    ];
    let mut ids = Vec::new();
    for policy in children(root, NS_WSP, "Policy") {
        let Some(id) = policy.attribute((NS_WSU, "Id")) else {
            continue;
        };
        let matches = shapes.iter().any(|&(sp, tokens)| {
            let path = [
                (NS_WSP, "ExactlyOne"),
                (NS_WSP, "All"),
                (sp, tokens),
                (NS_WSP, "Policy"),
                (sp, "UsernameToken"),
                (NS_WSP, "Policy"),
                (sp, "WssUsernameToken10"),
            ];
            has_path(policy, &path)
                && policy
                    .descendants()
                    .any(|d| d.is_element() && d.has_tag_name((sp, "TransportBinding")))
        });
        if matches {
            ids.push(format!("#{id}"));
        }
    }
    ids
}

/// The username/password endpoint of a WS-MetadataExchange document: the WS-Trust 1.3 one
/// when listed, else the first found; `None` when there is none (msal/mex.py
/// `get_wstrust_username_password_endpoint`). Only `https` addresses count.
pub(crate) fn parse_mex(text: &str) -> Result<Option<Endpoint>> {
    let doc = parse_xml(text).map_err(|e| {
        Error::invalid_response(format!(
            "the federation metadata (MEX) document is not well-formed XML: {e}"
        ))
    })?;
    let root = doc.root_element();
    let policies = username_policy_ids(root);
    // binding name -> (policy URI, SOAP action); the last policy reference wins, as in MSAL.
    let mut bindings: Vec<(&str, &str, &str)> = Vec::new();
    for binding in children(root, NS_WSDL, "binding") {
        let transport =
            child(binding, NS_SOAP12_WSDL, "binding").and_then(|b| b.attribute("transport"));
        if transport != Some(SOAP_HTTP_TRANSPORT) {
            continue;
        }
        let Some(name) = binding.attribute("name") else {
            continue;
        };
        let action = child(binding, NS_WSDL, "operation")
            .and_then(|o| child(o, NS_SOAP12_WSDL, "operation"))
            .and_then(|o| o.attribute("soapAction"))
            .unwrap_or_default();
        for reference in children(binding, NS_WSP, "PolicyReference") {
            let uri = reference.attribute("URI").unwrap_or_default();
            bindings.retain(|(n, _, _)| *n != name);
            bindings.push((name, uri, action));
        }
    }
    let mut endpoints = Vec::new();
    for service in children(root, NS_WSDL, "service") {
        for port in children(service, NS_WSDL, "port") {
            let Some(binding_name) = port.attribute("binding").and_then(|b| b.rsplit(':').next())
            else {
                continue;
            };
            let Some(&(_, uri, action)) = bindings.iter().find(|(n, _, _)| *n == binding_name)
            else {
                continue;
            };
            if !policies.iter().any(|p| p == uri) {
                continue;
            }
            let address = child(port, NS_WSA10, "EndpointReference")
                .and_then(|r| child(r, NS_WSA10, "Address"))
                .and_then(|a| a.text());
            if let Some(address) = address
                && address
                    .get(..8)
                    .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
            {
                endpoints.push(Endpoint {
                    address: address.to_owned(),
                    action: action.to_owned(),
                });
            }
        }
    }
    Ok(match endpoints.iter().position(|e| e.action == ACTION_13) {
        Some(i) => endpoints.into_iter().nth(i),
        None => endpoints.into_iter().next(),
    })
}

/// The SOAP action of the realm's `federation_active_auth_url`, told by its path
/// (msal/wstrust_request.py `send_request`).
pub(crate) fn action_of_address(address: &str) -> Option<&'static str> {
    if address.contains("/trust/2005/usernamemixed") {
        Some(ACTION_2005)
    } else if address.contains("/trust/13/usernamemixed") {
        Some(ACTION_13)
    } else {
        None
    }
}

/// Escapes text for XML content (msal/wstrust_request.py `escape_xml`).
fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// `t` as `YYYY-MM-DDTHH:MM:SSZ` (UTC), the form msal/wstrust_request.py `wsu_time_format`
/// writes.
fn wsu_time(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Days to a civil date (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms",
    // `civil_from_days`), valid for every day this code can see.
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe.saturating_add(era.saturating_mul(400)) + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// The SOAP 1.2 `RequestSecurityToken` for `endpoint` (msal/wstrust_request.py `_build_rst`):
/// WS-Addressing headers, a WS-Security timestamp (ten minutes) and `UsernameToken`, and a
/// bearer-token request for `audience`. `action` must be [`ACTION_13`] or [`ACTION_2005`].
pub(crate) fn build_rst(
    username: &str,
    password: &str,
    audience: &str,
    address: &str,
    action: &str,
    now: SystemTime,
) -> String {
    let trust13 = action == ACTION_13;
    let (wst, key_type, request_type) = if trust13 {
        (
            NS_TRUST13,
            "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer",
            "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue",
        )
    } else {
        (
            NS_TRUST2005,
            "http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey",
            "http://schemas.xmlsoap.org/ws/2005/02/trust/Issue",
        )
    };
    let created = wsu_time(now);
    let expires = wsu_time(now + Duration::from_secs(600));
    let message_id = uuid::Uuid::new_v4();
    let (action, address, audience) = (
        escape_xml(action),
        escape_xml(address),
        escape_xml(audience),
    );
    let (username, password) = (escape_xml(username), escape_xml(password));
    format!(
        "<s:Envelope xmlns:s='{NS_SOAP}' xmlns:wsa='{NS_WSA10}' xmlns:wsu='{NS_WSU}'>\
<s:Header>\
<wsa:Action s:mustUnderstand='1'>{action}</wsa:Action>\
<wsa:MessageID>urn:uuid:{message_id}</wsa:MessageID>\
<wsa:ReplyTo><wsa:Address>http://www.w3.org/2005/08/addressing/anonymous</wsa:Address></wsa:ReplyTo>\
<wsa:To s:mustUnderstand='1'>{address}</wsa:To>\
<wsse:Security s:mustUnderstand='1' xmlns:wsse='http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd'>\
<wsu:Timestamp wsu:Id='_0'><wsu:Created>{created}</wsu:Created><wsu:Expires>{expires}</wsu:Expires></wsu:Timestamp>\
<wsse:UsernameToken wsu:Id='ADALUsernameToken'><wsse:Username>{username}</wsse:Username><wsse:Password>{password}</wsse:Password></wsse:UsernameToken>\
</wsse:Security>\
</s:Header>\
<s:Body>\
<wst:RequestSecurityToken xmlns:wst='{wst}'>\
<wsp:AppliesTo xmlns:wsp='{NS_WSP}'><wsa:EndpointReference><wsa:Address>{audience}</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>\
<wst:KeyType>{key_type}</wst:KeyType>\
<wst:RequestType>{request_type}</wst:RequestType>\
</wst:RequestSecurityToken>\
</s:Body>\
</s:Envelope>"
    )
}

/// The grant of a `TokenType` (msal/application.py): SAML 1.1 or 2.0, as an assertion type or
/// a WS-Security SAML token profile type.
fn grant_of(token_type: &str) -> Option<&'static str> {
    match token_type.trim() {
        "urn:oasis:names:tc:SAML:1.0:assertion"
        | "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1" => {
            Some(GRANT_SAML1_1)
        }
        "urn:oasis:names:tc:SAML:2.0:assertion"
        | "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0" => {
            Some(GRANT_SAML2)
        }
        _ => None,
    }
}

/// The raw XML inside `node` (between its start and end tags), as sent.
fn inner_xml<'i>(text: &'i str, node: roxmltree::Node<'_, 'i>) -> Option<&'i str> {
    let first = node.first_child()?;
    let last = node.last_child()?;
    text.get(first.range().start..last.range().end)
}

fn is_local(node: &roxmltree::Node<'_, '_>, local: &str) -> bool {
    node.is_element() && node.tag_name().name() == local
}

/// The assertion of a WS-Trust response, or the SOAP fault it carries as an error
/// (msal/wstrust_response.py `parse_response`). `status` is the HTTP status (AD FS answers
/// faults with 5xx, so any status is read).
pub(crate) fn parse_rstr(text: &str, status: u16) -> Result<Assertion> {
    let doc = parse_xml(text).map_err(|e| {
        Error::invalid_response(format!(
            "the WS-Trust response (HTTP {status}) is not well-formed XML: {e}"
        ))
        .at_http_status(status)
    })?;
    // The first RequestSecurityTokenResponse (WS-Trust 1.3 wraps it in a collection) with a
    // token type and a token; namespaces are not checked, as MSAL matches tag names only.
    for rstr in doc
        .descendants()
        .filter(|n| is_local(n, "RequestSecurityTokenResponse"))
    {
        let token_type = rstr.descendants().find(|n| is_local(n, "TokenType"));
        let token = rstr
            .descendants()
            .find(|n| is_local(n, "RequestedSecurityToken"));
        let (Some(token_type), Some(token)) = (token_type, token) else {
            continue;
        };
        let token_type = token_type.text().unwrap_or_default();
        let grant_type = grant_of(token_type).ok_or_else(|| {
            Error::invalid_response(format!(
                "the WS-Trust response carries a token of an unknown type {:?}",
                token_type.chars().take(200).collect::<String>()
            ))
        })?;
        let token = inner_xml(text, token)
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                Error::invalid_response("the WS-Trust response carries an empty token")
            })?;
        return Ok(Assertion {
            token: token.to_owned(),
            grant_type,
        });
    }
    let fault = doc
        .root_element()
        .children()
        .find(|n| n.is_element() && n.has_tag_name((NS_SOAP, "Body")))
        .and_then(|b| child(b, NS_SOAP, "Fault"));
    let Some(fault) = fault else {
        return Err(Error::invalid_response(format!(
            "the WS-Trust response (HTTP {status}) carries neither a token nor a SOAP fault"
        ))
        .at_http_status(status));
    };
    let reason = child(fault, NS_SOAP, "Reason")
        .and_then(|r| child(r, NS_SOAP, "Text"))
        .and_then(|t| t.text())
        .unwrap_or_default()
        .trim();
    let code = child(fault, NS_SOAP, "Code");
    let value = code
        .and_then(|c| child(c, NS_SOAP, "Value"))
        .and_then(|v| v.text())
        .unwrap_or_default()
        .trim();
    let subcode = code
        .and_then(|c| child(c, NS_SOAP, "Subcode"))
        .and_then(|s| child(s, NS_SOAP, "Value"))
        .and_then(|v| v.text())
        .unwrap_or_default()
        .trim();
    let local = |q: &'_ str| q.rsplit(':').next().unwrap_or_default().to_owned();
    let (subcode_local, value_local) = (local(subcode), local(value));
    let error = if subcode_local == "FailedAuthentication" {
        "invalid_grant"
    } else if value_local == "Sender" {
        "invalid_request"
    } else {
        "server_error"
    };
    let clip = |s: &str| s.chars().take(500).collect::<String>();
    let description = format!(
        "the federation server refused the sign-in (WS-Trust fault {}): {}",
        clip(if subcode.is_empty() { value } else { subcode }),
        clip(reason)
    );
    Err(Error::from_service(ServiceError {
        status,
        error: error.to_owned(),
        error_description: Some(description),
        ..ServiceError::default()
    })
    .at_http_status(status))
}

/// Sends `req` with [`FEDERATION_TIMEOUT`] and reads at most [`MAX_XML_BYTES`] as UTF-8.
async fn exchange(
    http: &HttpContext,
    req: http::Request<Vec<u8>>,
    what: &str,
) -> Result<(u16, String)> {
    let resp = match tokio::time::timeout(FEDERATION_TIMEOUT, http.http.send(req)).await {
        Ok(r) => r?,
        Err(_) => {
            return Err(Error::new(
                ErrorKind::Transport,
                format!(
                    "the {what} did not answer within {} s",
                    FEDERATION_TIMEOUT.as_secs()
                ),
            ));
        }
    };
    let status = resp.status().as_u16();
    let body = resp.into_body();
    if body.len() > MAX_XML_BYTES {
        return Err(Error::invalid_response(format!(
            "the {what} answered more than {MAX_XML_BYTES} bytes"
        ))
        .at_http_status(status));
    }
    let text = String::from_utf8(body).map_err(|_| {
        Error::invalid_response(format!("the {what} answered a body that is not UTF-8"))
            .at_http_status(status)
    })?;
    Ok((status, text))
}

/// An `https` URL from a discovery document, or a discovery error naming `what`.
fn https_url(url: &str, what: &str) -> Result<()> {
    match url::Url::parse(url) {
        Ok(u) if u.scheme() == "https" && u.host_str().is_some() => Ok(()),
        _ => Err(Error::new(
            ErrorKind::Discovery,
            format!("the {what} is not an https URL"),
        )),
    }
}

/// Signs `username` in at the federation server named by the user realm document `realm`:
/// the MEX document (when named), then the WS-Trust request. Returns the SAML assertion.
pub(crate) async fn sign_in(
    http: &HttpContext,
    realm: &Value,
    username: &str,
    password: &str,
    now: SystemTime,
) -> Result<Assertion> {
    let text = |k: &str| {
        realm
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let endpoint = match text("federation_metadata_url") {
        Some(mex_url) => {
            https_url(mex_url, "federation metadata URL (federation_metadata_url)")?;
            let req = http::Request::builder()
                .method(http::Method::GET)
                .uri(mex_url)
                .body(Vec::new())
                .map_err(|e| {
                    Error::with_source(
                        ErrorKind::Discovery,
                        "the federation metadata URL is not a valid URL",
                        e,
                    )
                })?;
            tracing::debug!("fetching the federation metadata (MEX) document");
            let (status, body) = exchange(http, req, "federation metadata (MEX) endpoint").await?;
            if !(200..300).contains(&status) {
                return Err(Error::new(
                    ErrorKind::Discovery,
                    format!("the federation metadata (MEX) endpoint answered HTTP {status}"),
                )
                .at_http_status(status));
            }
            parse_mex(&body)?.ok_or_else(|| {
                Error::new(
                    ErrorKind::Discovery,
                    "the federation metadata (MEX) document lists no WS-Trust username/password \
                     endpoint (as for Microsoft accounts, which cannot sign in with a password)",
                )
            })?
        }
        None => {
            let address = text("federation_active_auth_url").ok_or_else(|| {
                Error::new(
                    ErrorKind::Discovery,
                    "user realm discovery names neither a federation metadata URL nor a \
                     WS-Trust endpoint for this federated account",
                )
            })?;
            Endpoint {
                address: address.to_owned(),
                action: action_of_address(address).unwrap_or_default().to_owned(),
            }
        }
    };
    https_url(&endpoint.address, "WS-Trust endpoint")?;
    if endpoint.action != ACTION_13 && endpoint.action != ACTION_2005 {
        return Err(Error::new(
            ErrorKind::Discovery,
            format!(
                "the WS-Trust endpoint's SOAP action {:?} is not WS-Trust 1.3 or 2005 issue",
                endpoint.action.chars().take(200).collect::<String>()
            ),
        ));
    }
    let audience = text("cloud_audience_urn").unwrap_or(DEFAULT_AUDIENCE);
    let rst = build_rst(
        username,
        password,
        audience,
        &endpoint.address,
        &endpoint.action,
        now,
    );
    let req = http::Request::builder()
        .method(http::Method::POST)
        .uri(&endpoint.address)
        .header("Content-Type", "application/soap+xml; charset=utf-8")
        .header("SOAPAction", &endpoint.action)
        .body(rst.into_bytes())
        .map_err(|e| {
            Error::with_source(
                ErrorKind::Discovery,
                "the WS-Trust endpoint is not a valid URL",
                e,
            )
        })?;
    tracing::debug!(
        trust13 = endpoint.action == ACTION_13,
        "sending the WS-Trust request"
    );
    let (status, body) = exchange(http, req, "WS-Trust endpoint").await?;
    parse_rstr(&body, status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_wsu_timestamps() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(wsu_time(t), "2023-11-14T22:13:20Z");
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(wsu_time(leap), "2000-02-29T00:00:00Z");
        assert_eq!(wsu_time(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn the_rst_escapes_and_is_well_formed() {
        let rst = build_rst(
            "a&b@fed.example",
            "p<'\">&",
            DEFAULT_AUDIENCE,
            "https://sts.example/adfs/services/trust/13/usernamemixed",
            ACTION_13,
            SystemTime::UNIX_EPOCH,
        );
        let doc = roxmltree::Document::parse(&rst).expect("well-formed");
        let password = doc
            .descendants()
            .find(|n| n.tag_name().name() == "Password")
            .and_then(|n| n.text());
        assert_eq!(password, Some("p<'\">&"));
        assert!(rst.contains(NS_TRUST13));
        let rst2005 = build_rst(
            "u",
            "p",
            "a",
            "https://x/",
            ACTION_2005,
            SystemTime::UNIX_EPOCH,
        );
        assert!(rst2005.contains(NS_TRUST2005) && rst2005.contains("NoProofKey"));
    }

    #[test]
    fn hostile_or_odd_documents_are_errors_or_none_never_panics() {
        let bomb = "<!DOCTYPE x [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><x>&b;</x>";
        assert!(parse_mex(bomb).is_err());
        assert!(parse_rstr(bomb, 200).is_err());
        assert!(parse_mex("not xml").is_err());
        assert_eq!(parse_mex("<a/>").ok(), Some(None));
        let deep = "<a>".repeat(5000) + &"</a>".repeat(5000);
        assert!(matches!(parse_mex(&deep), Ok(None) | Err(_)));
        let e = parse_rstr(
            "<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'/>",
            200,
        )
        .expect_err("no token");
        assert_eq!(e.kind(), ErrorKind::InvalidResponse);
        let unknown = "<RequestSecurityTokenResponse><TokenType>urn:x</TokenType><RequestedSecurityToken><a/></RequestedSecurityToken></RequestSecurityTokenResponse>";
        assert_eq!(
            parse_rstr(unknown, 200).expect_err("unknown").kind(),
            ErrorKind::InvalidResponse
        );
        let empty = "<RequestSecurityTokenResponse><TokenType>urn:oasis:names:tc:SAML:2.0:assertion</TokenType><RequestedSecurityToken/></RequestSecurityTokenResponse>";
        assert!(parse_rstr(empty, 200).is_err());
    }

    #[test]
    fn a_fault_is_a_service_error_with_its_text() {
        let fault = "<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value xmlns:a='http://docs.oasis-open.org/ws-sx/ws-trust/200512'>a:FailedAuthentication</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang='en-US'>ID3242: nope</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>";
        let e = parse_rstr(fault, 500).expect_err("a fault");
        assert_eq!(e.kind(), ErrorKind::Service);
        let s = e.service().expect("service fields");
        assert_eq!(s.error, "invalid_grant");
        assert!(
            s.error_description
                .as_deref()
                .is_some_and(|d| d.contains("ID3242: nope") && d.contains("FailedAuthentication"))
        );
        assert_eq!(e.http_status(), Some(500));
    }

    #[test]
    fn the_token_is_the_exact_inner_xml() {
        let rstr = "<t:RequestSecurityTokenResponse xmlns:t='http://schemas.xmlsoap.org/ws/2005/02/trust'><t:RequestedSecurityToken>\n <saml:Assertion xmlns:saml='urn:oasis:names:tc:SAML:1.0:assertion' AssertionID='_1'><x a=\"&amp;\"/></saml:Assertion> </t:RequestedSecurityToken><t:TokenType>urn:oasis:names:tc:SAML:1.0:assertion</t:TokenType></t:RequestSecurityTokenResponse>";
        let a = parse_rstr(rstr, 200).expect("a token");
        assert_eq!(a.grant_type, GRANT_SAML1_1);
        assert_eq!(
            a.token,
            "\n <saml:Assertion xmlns:saml='urn:oasis:names:tc:SAML:1.0:assertion' AssertionID='_1'><x a=\"&amp;\"/></saml:Assertion> "
        );
        assert!(!a.encoded().contains('='));
        assert!(!format!("{a:?}").contains("Assertion xmlns"));
    }

    #[test]
    fn actions_of_addresses() {
        assert_eq!(
            action_of_address("https://x/adfs/services/trust/2005/usernamemixed"),
            Some(ACTION_2005)
        );
        assert_eq!(
            action_of_address("https://x/adfs/services/trust/13/usernamemixed"),
            Some(ACTION_13)
        );
        assert_eq!(action_of_address("https://x/other"), None);
    }
}
