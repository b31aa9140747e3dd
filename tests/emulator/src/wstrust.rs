//! The federation server (AD FS) of the federated domain, at [`seeds::FEDERATION_HOST`]: what a
//! client signing a federated user in with a username and password talks to after user realm
//! discovery answers `Federated` (MSAL Python 1.39, msal/application.py
//! `_acquire_token_by_username_password_federated`).
//!
//! - `GET /adfs/services/trust/mex`: the WS-MetadataExchange document (a WSDL), listing the
//!   WS-Trust 1.3 and WS-Trust 2005 `usernamemixed` endpoints with their username-token
//!   policies, a Windows-integrated endpoint (which username/password clients must skip), as
//!   AD FS publishes it. [`mex_document`] builds variants for tests (served through a fault).
//! - `POST /adfs/services/trust/13/usernamemixed` and `…/2005/usernamemixed`: a SOAP 1.2
//!   `RequestSecurityToken` (WS-Trust 1.3 or 2005) with a WS-Security `UsernameToken`. A
//!   federated user's correct password gets a `RequestSecurityTokenResponse` with a SAML 2.0
//!   assertion (WS-Trust 1.3) or a SAML 1.1 assertion (WS-Trust 2005); anything else gets a
//!   SOAP fault with HTTP 500, as AD FS answers (`FailedAuthentication` for a wrong password).
//!
//! The assertions are unsigned: MSAL does not verify them (it passes them on as they are), and
//! the token endpoint trusts them only when this server issued them (it remembers each
//! assertion's id, user, version and expiry), which stands in for Entra checking the
//! federation server's signature.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode, header};

use super::clock::format_xml_time;
use super::frontend::Incoming;
use super::ids;
use super::respond;
use super::seeds;
use super::state::EmuState;

/// SOAP 1.2 envelope namespace.
const NS_SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";
/// WS-Addressing 1.0.
const NS_WSA: &str = "http://www.w3.org/2005/08/addressing";
/// WS-Security secext 1.0.
const NS_WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// WS-Security utility 1.0.
const NS_WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
/// WS-Trust 1.3.
const NS_TRUST13: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512";
/// WS-Trust 2005 (February 2005).
const NS_TRUST2005: &str = "http://schemas.xmlsoap.org/ws/2005/02/trust";
/// WS-Policy 2004/09.
const NS_WSP: &str = "http://schemas.xmlsoap.org/ws/2004/09/policy";
/// SAML 1.1 assertions.
const NS_SAML1: &str = "urn:oasis:names:tc:SAML:1.0:assertion";
/// SAML 2.0 assertions.
const NS_SAML2: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

/// The WS-Trust 1.3 issue action.
const ACTION_13: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue";
/// The WS-Trust 2005 issue action.
const ACTION_2005: &str = "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue";
/// The audience Entra ID asks assertions for (`cloud_audience_urn` of user realm discovery).
pub(crate) const AUDIENCE: &str = "urn:federation:MicrosoftOnline";
/// How long an issued assertion is valid (seconds).
const ASSERTION_LIFETIME: u64 = 3600;

const MEX_PATH: &str = "/adfs/services/trust/mex";
const TRUST13_PATH: &str = "/adfs/services/trust/13/usernamemixed";
const TRUST2005_PATH: &str = "/adfs/services/trust/2005/usernamemixed";
const WINDOWS_PATH: &str = "/adfs/services/trust/13/windowstransport";

/// A SAML assertion the federation server issued.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    /// The user's principal name.
    pub(crate) username: String,
    /// SAML 2.0 (WS-Trust 1.3) or SAML 1.1 (WS-Trust 2005).
    pub(crate) saml2: bool,
    /// Emulator time after which the assertion is refused.
    pub(crate) not_on_or_after: u64,
}

/// Whether `host` is the federation server.
pub(crate) fn is_federation_host(host: &str) -> bool {
    host.eq_ignore_ascii_case(seeds::FEDERATION_HOST)
}

/// The WS-MetadataExchange document of the federation server, with the WS-Trust 1.3 and/or
/// WS-Trust 2005 username/password endpoints (and always a Windows-integrated endpoint, which
/// username/password clients must not pick). The emulator serves it with both; tests serve
/// other variants through a fault rule.
pub fn mex_document(trust13: bool, trust2005: bool) -> String {
    let host = seeds::FEDERATION_HOST;
    let mut policies = String::new();
    let mut bindings = String::new();
    let mut ports = String::new();
    let port = |name: &str, path: &str| {
        format!(
            r#"<wsdl:port name="{name}" binding="tns:{name}"><soap12:address location="https://{host}{path}"/><wsa10:EndpointReference><wsa10:Address>https://{host}{path}</wsa10:Address></wsa10:EndpointReference></wsdl:port>"#
        )
    };
    let binding = |name: &str, action: &str| {
        format!(
            r##"<wsdl:binding name="{name}" type="tns:IWSTrust"><wsp:PolicyReference URI="#{name}_policy"/><soap12:binding transport="http://schemas.xmlsoap.org/soap/http"/><wsdl:operation name="Issue"><soap12:operation soapAction="{action}" style="document"/><wsdl:input><soap12:body use="literal"/></wsdl:input><wsdl:output><soap12:body use="literal"/></wsdl:output></wsdl:operation></wsdl:binding>"##
        )
    };
    if trust13 {
        let name = "UserNameWSTrustBinding_IWSTrust13Async";
        policies.push_str(&format!(
            r#"<wsp:Policy wsu:Id="{name}_policy"><wsp:ExactlyOne><wsp:All><sp:TransportBinding xmlns:sp="http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702"><wsp:Policy><sp:TransportToken><wsp:Policy><sp:HttpsToken/></wsp:Policy></sp:TransportToken><sp:AlgorithmSuite><wsp:Policy><sp:Basic256/></wsp:Policy></sp:AlgorithmSuite><sp:Layout><wsp:Policy><sp:Strict/></wsp:Policy></sp:Layout><sp:IncludeTimestamp/></wsp:Policy></sp:TransportBinding><sp:SignedEncryptedSupportingTokens xmlns:sp="http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702"><wsp:Policy><sp:UsernameToken sp:IncludeToken="http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702/IncludeToken/AlwaysToRecipient"><wsp:Policy><sp:WssUsernameToken10/></wsp:Policy></sp:UsernameToken></wsp:Policy></sp:SignedEncryptedSupportingTokens><wsaw:UsingAddressing/></wsp:All></wsp:ExactlyOne></wsp:Policy>"#
        ));
        bindings.push_str(&binding(name, ACTION_13));
        ports.push_str(&port(name, TRUST13_PATH));
    }
    if trust2005 {
        let name = "UserNameWSTrustBinding_IWSTrustFeb2005Async";
        policies.push_str(&format!(
            r#"<wsp:Policy wsu:Id="{name}_policy"><wsp:ExactlyOne><wsp:All><sp:TransportBinding xmlns:sp="http://schemas.xmlsoap.org/ws/2005/07/securitypolicy"><wsp:Policy><sp:TransportToken><wsp:Policy><sp:HttpsToken RequireClientCertificate="false"/></wsp:Policy></sp:TransportToken><sp:AlgorithmSuite><wsp:Policy><sp:Basic256/></wsp:Policy></sp:AlgorithmSuite><sp:Layout><wsp:Policy><sp:Strict/></wsp:Policy></sp:Layout><sp:IncludeTimestamp/></wsp:Policy></sp:TransportBinding><sp:SignedSupportingTokens xmlns:sp="http://schemas.xmlsoap.org/ws/2005/07/securitypolicy"><wsp:Policy><sp:UsernameToken sp:IncludeToken="http://schemas.xmlsoap.org/ws/2005/07/securitypolicy/IncludeToken/AlwaysToRecipient"><wsp:Policy><sp:WssUsernameToken10/></wsp:Policy></sp:UsernameToken></wsp:Policy></sp:SignedSupportingTokens><wsaw:UsingAddressing/></wsp:All></wsp:ExactlyOne></wsp:Policy>"#
        ));
        bindings.push_str(&binding(name, ACTION_2005));
        ports.push_str(&port(name, TRUST2005_PATH));
    }
    // Windows-integrated authentication: not a username/password endpoint.
    let name = "WindowsWSTrustBinding_IWSTrust13Async";
    policies.push_str(&format!(
        r#"<wsp:Policy wsu:Id="{name}_policy"><wsp:ExactlyOne><wsp:All><http:NegotiateAuthentication xmlns:http="http://schemas.microsoft.com/ws/06/2004/policy/http"/><sp:TransportBinding xmlns:sp="http://schemas.xmlsoap.org/ws/2005/07/securitypolicy"><wsp:Policy><sp:TransportToken><wsp:Policy><sp:HttpsToken RequireClientCertificate="false"/></wsp:Policy></sp:TransportToken></wsp:Policy></sp:TransportBinding><wsaw:UsingAddressing/></wsp:All></wsp:ExactlyOne></wsp:Policy>"#
    ));
    bindings.push_str(&binding(name, ACTION_13));
    ports.push_str(&port(name, WINDOWS_PATH));
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions name="SecurityTokenService" targetNamespace="http://tempuri.org/" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/" xmlns:wsu="{NS_WSU}" xmlns:wsp="{NS_WSP}" xmlns:wsaw="http://www.w3.org/2006/05/addressing/wsdl" xmlns:wsa10="{NS_WSA}" xmlns:tns="http://tempuri.org/">{policies}<wsdl:types/>{bindings}<wsdl:service name="SecurityTokenService">{ports}</wsdl:service></wsdl:definitions>"#
    )
}

/// Serves a request to the federation server.
pub(crate) fn handle(state: &EmuState, req: &Incoming) -> Response {
    let path = req.norm_path.to_ascii_lowercase();
    match (path.as_str(), &req.method) {
        (MEX_PATH, &Method::GET) => xml(
            StatusCode::OK,
            "application/soap+xml; charset=utf-8",
            mex_document(true, true),
        ),
        (TRUST13_PATH, &Method::POST) => issue(state, req, true),
        (TRUST2005_PATH, &Method::POST) => issue(state, req, false),
        _ => respond::plain_error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!(
                "The federation server does not serve {} {}",
                req.method, req.path
            ),
        ),
    }
}

fn xml(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// Escapes text for an XML element or attribute value.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A SOAP 1.2 fault, as AD FS sends it (HTTP 500, whoever is at fault).
fn fault(trust13: bool, subcode: &str, reason: &str) -> Response {
    let trust = if trust13 { NS_TRUST13 } else { NS_TRUST2005 };
    xml(
        StatusCode::INTERNAL_SERVER_ERROR,
        "application/soap+xml; charset=utf-8",
        format!(
            r#"<s:Envelope xmlns:s="{NS_SOAP}" xmlns:a="{NS_WSA}"><s:Header><a:Action s:mustUnderstand="1">http://www.w3.org/2005/08/addressing/soap/fault</a:Action></s:Header><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value xmlns:a="{trust}">a:{subcode}</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{}</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"#,
            escape(reason)
        ),
    )
}

fn invalid_request(trust13: bool, reason: &str) -> Response {
    fault(trust13, "InvalidRequest", reason)
}

/// The first child element of `node` named `(ns, local)`.
fn child<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    ns: &str,
    local: &str,
) -> Option<roxmltree::Node<'a, 'i>> {
    node.children()
        .find(|n| n.is_element() && n.has_tag_name((ns, local)))
}

/// The text of the element at `path` below `node` (each step a `(namespace, local name)`).
fn text_at<'a>(node: roxmltree::Node<'a, '_>, path: &[(&str, &str)]) -> Option<&'a str> {
    let mut n = node;
    for (ns, local) in path {
        n = child(n, ns, local)?;
    }
    Some(n.text().unwrap_or_default().trim())
}

/// What an RST asks for.
struct Rst {
    username: String,
    password: String,
}

fn parse_rst(body: &str, trust13: bool) -> Result<Rst, String> {
    let doc = roxmltree::Document::parse_with_options(
        body,
        roxmltree::ParsingOptions {
            allow_dtd: false,
            nodes_limit: 10_000,
            ..Default::default()
        },
    )
    .map_err(|e| format!("ID3000: The request is not well-formed XML: {e}."))?;
    let env = doc.root_element();
    if !env.has_tag_name((NS_SOAP, "Envelope")) {
        return Err("ID3001: The request is not a SOAP 1.2 envelope.".into());
    }
    let header = child(env, NS_SOAP, "Header").ok_or("ID3002: The SOAP header is missing.")?;
    let body = child(env, NS_SOAP, "Body").ok_or("ID3003: The SOAP body is missing.")?;
    let (action, trust, key_type, request_type) = if trust13 {
        (
            ACTION_13,
            NS_TRUST13,
            "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer",
            "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue",
        )
    } else {
        (
            ACTION_2005,
            NS_TRUST2005,
            "http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey",
            "http://schemas.xmlsoap.org/ws/2005/02/trust/Issue",
        )
    };
    let sent_action = text_at(header, &[(NS_WSA, "Action")]).unwrap_or_default();
    if sent_action != action {
        return Err(format!(
            "ID3004: The action '{}' is not supported at this endpoint; expected '{action}'.",
            escape(sent_action)
        ));
    }
    let token = child(header, NS_WSSE, "Security")
        .and_then(|s| child(s, NS_WSSE, "UsernameToken"))
        .ok_or("ID3005: The WS-Security header has no UsernameToken.")?;
    let username = text_at(token, &[(NS_WSSE, "Username")]).unwrap_or_default();
    // The password is taken as it is (no trimming).
    let password = child(token, NS_WSSE, "Password")
        .and_then(|p| p.text())
        .unwrap_or_default();
    let rst = child(body, trust, "RequestSecurityToken").ok_or_else(|| {
        format!("ID3006: The body has no RequestSecurityToken of the namespace '{trust}'.")
    })?;
    let applies_to = text_at(
        rst,
        &[
            (NS_WSP, "AppliesTo"),
            (NS_WSA, "EndpointReference"),
            (NS_WSA, "Address"),
        ],
    )
    .unwrap_or_default();
    if applies_to != AUDIENCE {
        return Err(format!(
            "MSIS7007: The relying party '{}' is not known to this federation server.",
            escape(applies_to)
        ));
    }
    if text_at(rst, &[(trust, "KeyType")]) != Some(key_type) {
        return Err(format!("ID3007: KeyType must be '{key_type}'."));
    }
    if text_at(rst, &[(trust, "RequestType")]) != Some(request_type) {
        return Err(format!("ID3008: RequestType must be '{request_type}'."));
    }
    Ok(Rst {
        username: username.to_owned(),
        password: password.to_owned(),
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Handles an RST at the WS-Trust 1.3 (`trust13`) or 2005 endpoint.
fn issue(state: &EmuState, req: &Incoming, trust13: bool) -> Response {
    let Ok(body) = std::str::from_utf8(&req.body) else {
        return invalid_request(trust13, "ID3000: The request is not UTF-8.");
    };
    let rst = match parse_rst(body, trust13) {
        Ok(r) => r,
        Err(reason) => return invalid_request(trust13, &reason),
    };
    let now = state.clock.now_secs();
    let username = {
        let mut reg = state.lock();
        let found = reg
            .users_named(&rst.username)
            .find(|u| reg.is_federated(&u.domain()))
            .filter(|u| constant_time_eq(u.password.as_bytes(), rst.password.as_bytes()))
            .map(|u| u.username.clone());
        let Some(username) = found else {
            drop(reg);
            return fault(
                trust13,
                "FailedAuthentication",
                "ID3242: The security token could not be authenticated or authorized.",
            );
        };
        let id = format!("_{}", ids::random_uuid());
        reg.saml_assertions.insert(
            id.clone(),
            Issued {
                username: username.clone(),
                saml2: trust13,
                not_on_or_after: now + ASSERTION_LIFETIME,
            },
        );
        (username, id)
    };
    let (username, id) = username;
    let created = format_xml_time(now);
    let expires = format_xml_time(now + ASSERTION_LIFETIME);
    let user = escape(&username);
    let issuer = seeds::FEDERATION_ISSUER;
    let (assertion, token_type) = if trust13 {
        (
            format!(
                r#"<saml:Assertion xmlns:saml="{NS_SAML2}" ID="{id}" IssueInstant="{created}" Version="2.0"><saml:Issuer>{issuer}</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">{user}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"/></saml:Subject><saml:Conditions NotBefore="{created}" NotOnOrAfter="{expires}"><saml:AudienceRestriction><saml:Audience>{AUDIENCE}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AttributeStatement><saml:Attribute Name="http://schemas.xmlsoap.org/claims/UPN"><saml:AttributeValue>{user}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement><saml:AuthnStatement AuthnInstant="{created}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement></saml:Assertion>"#
            ),
            "urn:oasis:names:tc:SAML:2.0:assertion",
        )
    } else {
        (
            format!(
                r#"<saml:Assertion xmlns:saml="{NS_SAML1}" MajorVersion="1" MinorVersion="1" AssertionID="{id}" Issuer="{issuer}" IssueInstant="{created}"><saml:Conditions NotBefore="{created}" NotOnOrAfter="{expires}"><saml:AudienceRestrictionCondition><saml:Audience>{AUDIENCE}</saml:Audience></saml:AudienceRestrictionCondition></saml:Conditions><saml:AttributeStatement><saml:Subject><saml:NameIdentifier Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">{user}</saml:NameIdentifier><saml:SubjectConfirmation><saml:ConfirmationMethod>urn:oasis:names:tc:SAML:1.0:cm:bearer</saml:ConfirmationMethod></saml:SubjectConfirmation></saml:Subject><saml:Attribute AttributeName="UPN" AttributeNamespace="http://schemas.xmlsoap.org/claims"><saml:AttributeValue>{user}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement><saml:AuthenticationStatement AuthenticationMethod="urn:oasis:names:tc:SAML:1.0:am:password" AuthenticationInstant="{created}"><saml:Subject><saml:NameIdentifier Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">{user}</saml:NameIdentifier><saml:SubjectConfirmation><saml:ConfirmationMethod>urn:oasis:names:tc:SAML:1.0:cm:bearer</saml:ConfirmationMethod></saml:SubjectConfirmation></saml:Subject></saml:AuthenticationStatement></saml:Assertion>"#
            ),
            "urn:oasis:names:tc:SAML:1.0:assertion",
        )
    };
    let body = if trust13 {
        format!(
            r#"<s:Envelope xmlns:s="{NS_SOAP}" xmlns:a="{NS_WSA}" xmlns:u="{NS_WSU}"><s:Header><a:Action s:mustUnderstand="1">http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTRC/IssueFinal</a:Action></s:Header><s:Body><trust:RequestSecurityTokenResponseCollection xmlns:trust="{NS_TRUST13}"><trust:RequestSecurityTokenResponse><trust:Lifetime><u:Created>{created}</u:Created><u:Expires>{expires}</u:Expires></trust:Lifetime><wsp:AppliesTo xmlns:wsp="{NS_WSP}"><a:EndpointReference><a:Address>{AUDIENCE}</a:Address></a:EndpointReference></wsp:AppliesTo><trust:RequestedSecurityToken>{assertion}</trust:RequestedSecurityToken><trust:TokenType>{token_type}</trust:TokenType><trust:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</trust:RequestType><trust:KeyType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer</trust:KeyType></trust:RequestSecurityTokenResponse></trust:RequestSecurityTokenResponseCollection></s:Body></s:Envelope>"#
        )
    } else {
        format!(
            r#"<s:Envelope xmlns:s="{NS_SOAP}" xmlns:a="{NS_WSA}" xmlns:u="{NS_WSU}"><s:Header><a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/Issue</a:Action></s:Header><s:Body><t:RequestSecurityTokenResponse xmlns:t="{NS_TRUST2005}"><t:Lifetime><u:Created>{created}</u:Created><u:Expires>{expires}</u:Expires></t:Lifetime><wsp:AppliesTo xmlns:wsp="{NS_WSP}"><a:EndpointReference><a:Address>{AUDIENCE}</a:Address></a:EndpointReference></wsp:AppliesTo><t:RequestedSecurityToken>{assertion}</t:RequestedSecurityToken><t:TokenType>{token_type}</t:TokenType><t:RequestType>http://schemas.xmlsoap.org/ws/2005/02/trust/Issue</t:RequestType><t:KeyType>http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey</t:KeyType></t:RequestSecurityTokenResponse></s:Body></s:Envelope>"#
        )
    };
    xml(StatusCode::OK, "application/soap+xml; charset=utf-8", body)
}

/// Why an assertion presented to the token endpoint is refused.
pub(crate) enum Refused {
    /// Not base64, not XML, not a SAML assertion of the grant's version, or not issued here.
    Invalid(String),
    /// Past its `NotOnOrAfter`.
    Expired,
}

/// The user an assertion (as sent in `assertion`: base64url, unpadded as RFC 7522 §2.1 says;
/// padded and standard base64 are accepted too) signs in, when the federation server issued it
/// for the grant's SAML version and it has not expired.
pub(crate) fn redeem_assertion(
    state: &EmuState,
    encoded: &str,
    saml2: bool,
    now: u64,
) -> Result<String, Refused> {
    use base64::Engine as _;
    let trimmed = encoded.trim().trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
        .map_err(|_| Refused::Invalid("The assertion is not base64.".into()))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Refused::Invalid("The assertion is not UTF-8 XML.".into()))?;
    let doc = roxmltree::Document::parse_with_options(
        &text,
        roxmltree::ParsingOptions {
            allow_dtd: false,
            nodes_limit: 10_000,
            ..Default::default()
        },
    )
    .map_err(|e| Refused::Invalid(format!("The assertion is not well-formed XML: {e}.")))?;
    let root = doc.root_element();
    let (ns, id_attr, version) = if saml2 {
        (NS_SAML2, "ID", "SAML 2.0")
    } else {
        (NS_SAML1, "AssertionID", "SAML 1.1")
    };
    if !root.has_tag_name((ns, "Assertion")) {
        return Err(Refused::Invalid(format!(
            "The assertion is not a {version} assertion."
        )));
    }
    let id = root.attribute(id_attr).unwrap_or_default();
    let issued = state
        .lock()
        .saml_assertions
        .get(id)
        .cloned()
        .filter(|i| i.saml2 == saml2)
        .ok_or_else(|| {
            Refused::Invalid(
                "The SAML assertion was not issued by a trusted federation server.".into(),
            )
        })?;
    if now >= issued.not_on_or_after {
        return Err(Refused::Expired);
    }
    Ok(issued.username)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mex_document_is_well_formed_in_every_variant() {
        for (a, b) in [(true, true), (true, false), (false, true), (false, false)] {
            let doc = mex_document(a, b);
            let parsed = roxmltree::Document::parse(&doc).expect("well-formed");
            let ports = parsed
                .descendants()
                .filter(|n| n.has_tag_name(("http://schemas.xmlsoap.org/wsdl/", "port")))
                .count();
            assert_eq!(ports, 1 + usize::from(a) + usize::from(b));
        }
    }

    #[test]
    fn escapes() {
        assert_eq!(escape(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&apos;");
    }
}
