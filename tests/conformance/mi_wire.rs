//! Comparing the managed identity requests two clients sent, as the emulator recorded them:
//! method, path, query pairs in order, and the headers that carry the identity or its secret
//! (library tags, request ids and transport headers aside).

use msal_tests::emulator::RecordedRequest;

/// Headers that say who sent the request or how, not what it asks for: not compared.
const IGNORED_HEADERS: [&str; 16] = [
    "host",
    "user-agent",
    "accept",
    "accept-encoding",
    "connection",
    "content-length",
    "x-client-sku",
    "x-client-ver",
    "x-client-os",
    "x-client-cpu",
    "x-ms-client-request-id",
    "client-request-id",
    "x-ms-return-client-request-id",
    "x-ms-request-id",
    "traceparent",
    "x-ms-client-version",
];

/// Headers carrying a secret: compared by a fingerprint, so a report never shows the value.
const SECRET_HEADERS: [&str; 2] = ["x-identity-header", "secret"];

/// `<secret sha256:…>`: equal values give equal fingerprints.
fn fingerprint(v: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, v.as_bytes());
    let hex: String = d
        .as_ref()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("<secret sha256:{hex}>")
}

/// The compared view of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MiRequest {
    /// `GET` or `POST`.
    pub(crate) method: String,
    /// The path as received.
    pub(crate) path: String,
    /// Decoded query pairs, in order.
    pub(crate) query: Vec<(String, String)>,
    /// The compared headers (lowercase names), sorted by name; an `Authorization` value is
    /// reduced to its scheme (Azure Arc's key changes with each challenge).
    pub(crate) headers: Vec<(String, String)>,
}

impl MiRequest {
    /// The view of a recorded request.
    pub(crate) fn of(r: &RecordedRequest) -> MiRequest {
        let mut headers: Vec<(String, String)> = r
            .headers
            .iter()
            .filter(|(k, _)| !IGNORED_HEADERS.contains(&k.to_ascii_lowercase().as_str()))
            .map(|(k, v)| {
                let k = k.to_ascii_lowercase();
                let v = if SECRET_HEADERS.contains(&k.as_str()) {
                    fingerprint(v)
                } else if k == "authorization" {
                    match v.split_once(' ') {
                        Some((scheme, rest)) if !rest.trim().is_empty() => {
                            format!("{scheme} <key file contents>")
                        }
                        _ => format!("{v} (no credentials)"),
                    }
                } else {
                    v.clone()
                };
                (k, v)
            })
            .collect();
        headers.sort();
        MiRequest {
            method: r.method.to_ascii_uppercase(),
            path: r.path.clone(),
            query: r.query.clone(),
            headers,
        }
    }

    /// The first query value named `name`.
    pub(crate) fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The managed identity requests of a log (those that reached a source), in arrival order.
pub(crate) fn mi_requests(log: &[RecordedRequest]) -> Vec<MiRequest> {
    log.iter()
        .filter(|r| r.source.is_some())
        .map(MiRequest::of)
        .collect()
}

/// Every difference between `a`'s requests and `b`'s (sides named `an` and `bn`), one line each.
pub(crate) fn compare(an: &str, a: &[MiRequest], bn: &str, b: &[MiRequest]) -> Vec<String> {
    let mut d = Vec::new();
    if a.len() != b.len() {
        d.push(format!(
            "{an} sent {} request(s), {bn} {}",
            a.len(),
            b.len()
        ));
    }
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x.method != y.method || x.path != y.path {
            d.push(format!(
                "request {i}: {an} {} {} | {bn} {} {}",
                x.method, x.path, y.method, y.path
            ));
        }
        if x.query != y.query {
            d.push(format!(
                "request {i} query: {an} {} | {bn} {}",
                pairs(&x.query),
                pairs(&y.query)
            ));
        }
        if x.headers != y.headers {
            d.push(format!(
                "request {i} headers: {an} {} | {bn} {}",
                pairs(&x.headers),
                pairs(&y.headers)
            ));
        }
    }
    d
}

fn pairs(p: &[(String, String)]) -> String {
    let items: Vec<String> = p.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("[{}]", items.join(", "))
}
