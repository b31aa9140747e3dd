//! The user's browser on oidc-provider's development pages: follows redirects, keeps the
//! cookies, and submits each page's form (the login form with a user name and any password,
//! the consent form, the device code forms), until the redirect to the app's redirect URI or a
//! page without a form.

use anyhow::{Context as _, bail};

/// How a walk through the pages ended.
#[derive(Debug)]
pub(crate) enum Landing {
    /// The provider redirected to the app: the full redirect URL.
    Redirect(String),
    /// A page without a form (the device flow's "Sign-in Success").
    Page(String),
}

/// At most this many requests per walk (oidc-provider needs about ten).
const MAX_HOPS: usize = 24;

/// A cookie jar keyed by name: one flow talks to one host, so paths and domains are moot.
#[derive(Default)]
struct Jar {
    cookies: Vec<(String, String)>,
}

impl Jar {
    fn store(&mut self, headers: &reqwest::header::HeaderMap) {
        for v in headers.get_all(reqwest::header::SET_COOKIE) {
            let Ok(v) = v.to_str() else { continue };
            let pair = v.split(';').next().unwrap_or("");
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let (name, value) = (name.trim().to_string(), value.trim().to_string());
            let lower = v.to_ascii_lowercase();
            let expired = value.is_empty()
                || lower.contains("expires=thu, 01 jan 1970")
                || lower.contains("max-age=0");
            self.cookies.retain(|(n, _)| *n != name);
            if !expired {
                self.cookies.push((name, value));
            }
        }
    }

    fn header(&self) -> Option<String> {
        (!self.cookies.is_empty()).then(|| {
            self.cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

/// One HTML form: its action and its named inputs (hidden or not) with their values.
#[derive(Debug)]
struct Form {
    action: String,
    inputs: Vec<(String, String)>,
}

/// The value of attribute `name` in a tag's text (`<input type="hidden" name="x" value="y"/>`).
fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower.get(from..)?.find(name).map(|i| i + from) {
        let before_ok = i == 0
            || lower
                .as_bytes()
                .get(i - 1)
                .is_some_and(|b| b.is_ascii_whitespace());
        let rest = tag.get(i + name.len()..)?.trim_start();
        if before_ok && let Some(rest) = rest.strip_prefix('=') {
            let rest = rest.trim_start();
            let quote = rest.chars().next()?;
            if quote == '"' || quote == '\'' {
                let body = rest.get(1..)?;
                let end = body.find(quote)?;
                return Some(unescape(body.get(..end)?));
            }
            let end = rest
                .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
                .unwrap_or(rest.len());
            return Some(unescape(rest.get(..end)?));
        }
        from = i + name.len();
    }
    None
}

/// Undoes the HTML escaping oidc-provider applies to attribute values.
fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#x2F;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The first `<form method="post">` of a page.
fn first_post_form(html: &str) -> Option<Form> {
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(start) = lower.get(from..)?.find("<form").map(|i| i + from) {
        let tag_end = lower.get(start..)?.find('>')? + start;
        let tag = html.get(start..=tag_end)?;
        let end = lower
            .get(tag_end..)?
            .find("</form")
            .map_or(html.len(), |i| i + tag_end);
        from = tag_end;
        if !attr(tag, "method").is_some_and(|m| m.eq_ignore_ascii_case("post")) {
            continue;
        }
        let action = attr(tag, "action")?;
        let body = html.get(tag_end..end)?;
        let body_lower = lower.get(tag_end..end)?;
        let mut inputs = Vec::new();
        let mut at = 0;
        while let Some(i) = body_lower.get(at..).and_then(|s| s.find("<input")) {
            let s = at + i;
            let e = body_lower
                .get(s..)
                .and_then(|t| t.find('>'))
                .map_or(body.len(), |j| s + j);
            let itag = body.get(s..e)?;
            if let Some(name) = attr(itag, "name") {
                inputs.push((name, attr(itag, "value").unwrap_or_default()));
            }
            at = e;
        }
        return Some(Form { action, inputs });
    }
    None
}

/// `application/x-www-form-urlencoded` of `fields`.
pub(crate) fn form_body<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k.as_ref(), v.as_ref());
    }
    s.finish()
}

/// Walks from `start` through the provider's pages, submitting every form with the inputs the
/// page left empty taken from `fill` (name → value: `login`, `password`, `user_code`), until a redirect to a URL starting with `stop_at` or a page without a form.
pub(crate) async fn walk(
    client: &reqwest::Client,
    start: &str,
    stop_at: Option<&str>,
    fill: &[(&str, &str)],
) -> anyhow::Result<Landing> {
    let mut jar = Jar::default();
    let mut url = url::Url::parse(start).with_context(|| format!("start URL {start}"))?;
    let mut form: Option<Vec<(String, String)>> = None;
    for _ in 0..MAX_HOPS {
        if let Some(stop) = stop_at
            && url.as_str().starts_with(stop)
        {
            return Ok(Landing::Redirect(url.to_string()));
        }
        let mut req = match form.take() {
            Some(fields) => client
                .post(url.clone())
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(form_body(&fields)),
            None => client.get(url.clone()),
        };
        if let Some(c) = jar.header() {
            req = req.header(reqwest::header::COOKIE, c);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("browsing {url}"))?;
        jar.store(resp.headers());
        let status = resp.status();
        if status.is_redirection() {
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .with_context(|| format!("{url} redirected without a Location"))?;
            url = url
                .join(location)
                .with_context(|| format!("Location {location:?}"))?;
            continue;
        }
        let body = resp.text().await?;
        if !status.is_success() {
            bail!(
                "{url} answered HTTP {status}: {}",
                body.chars().take(400).collect::<String>()
            );
        }
        let Some(f) = first_post_form(&body) else {
            return Ok(Landing::Page(body));
        };
        let fields = f
            .inputs
            .into_iter()
            .map(
                |(name, value)| match fill.iter().find(|(n, _)| *n == name) {
                    Some((_, v)) if value.is_empty() => (name, (*v).to_string()),
                    _ => (name, value),
                },
            )
            .collect();
        form = Some(fields);
        url = url
            .join(&f.action)
            .with_context(|| format!("form action {:?}", f.action))?;
    }
    bail!("no redirect to the app after {MAX_HOPS} requests (last: {url})")
}
