//! Fault injection: rules matched before normal processing, counting down.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

use super::model::FaultRule;

/// A fault rule with its remaining count (`None` = forever).
#[derive(Debug, Clone)]
pub(crate) struct ActiveFault {
    pub(crate) rule: FaultRule,
    remaining: Option<u32>,
}

/// What a matching request looks like.
pub(crate) struct Target<'a> {
    pub(crate) method: &'a str,
    pub(crate) host: &'a str,
    pub(crate) path: &'a str,
    pub(crate) grant_type: Option<&'a str>,
}

impl ActiveFault {
    /// Validates a rule from the admin API.
    pub(crate) fn new(rule: FaultRule) -> Result<Self, String> {
        if let Some(s) = rule.status {
            StatusCode::from_u16(s).map_err(|_| format!("invalid status {s}"))?;
        }
        if rule.body.is_some() && rule.json.is_some() {
            return Err("give either body or json, not both".into());
        }
        for v in [&rule.retry_after, &rule.content_type]
            .into_iter()
            .flatten()
        {
            HeaderValue::from_str(v).map_err(|_| format!("invalid header value {v:?}"))?;
        }
        let remaining = match rule.times {
            Some(0) => None,
            Some(n) => Some(n),
            None => Some(1),
        };
        Ok(Self { rule, remaining })
    }

    fn matches(&self, t: &Target<'_>) -> bool {
        let m = &self.rule.matches;
        m.host
            .as_deref()
            .is_none_or(|h| h.eq_ignore_ascii_case(t.host))
            && m.path_contains
                .as_deref()
                .is_none_or(|p| t.path.contains(p))
            && m.method
                .as_deref()
                .is_none_or(|x| x.eq_ignore_ascii_case(t.method))
            && m.grant_type
                .as_deref()
                .is_none_or(|g| t.grant_type == Some(g))
    }
}

/// Takes the first rule matching `target`, counting it down.
pub(crate) fn take(faults: &mut Vec<ActiveFault>, target: &Target<'_>) -> Option<FaultRule> {
    let i = faults.iter().position(|f| f.matches(target))?;
    let rule = faults[i].rule.clone();
    if let Some(n) = &mut faults[i].remaining {
        *n = n.saturating_sub(1);
        if *n == 0 {
            faults.remove(i);
        }
    }
    Some(rule)
}

/// The response a rule dictates, or `None` when it only delays.
pub(crate) fn response(rule: &FaultRule) -> Option<Response> {
    if rule.status.is_none() && rule.body.is_none() && rule.json.is_none() {
        return None;
    }
    let (body, default_type) = match (&rule.json, &rule.body) {
        (Some(j), _) => (j.to_string(), "application/json; charset=utf-8"),
        (None, Some(b)) => (b.clone(), "text/plain; charset=utf-8"),
        (None, None) => (String::new(), "text/plain; charset=utf-8"),
    };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = rule
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let content_type = rule.content_type.as_deref().unwrap_or(default_type);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    if let Some(v) = rule
        .retry_after
        .as_deref()
        .and_then(|r| HeaderValue::from_str(r).ok())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FaultMatch;

    #[test]
    fn counts_down() {
        let rule = FaultRule {
            matches: FaultMatch {
                path_contains: Some("/token".into()),
                ..Default::default()
            },
            times: Some(2),
            status: Some(503),
            ..Default::default()
        };
        let mut faults = vec![ActiveFault::new(rule).unwrap()];
        let t = Target {
            method: "POST",
            host: "h",
            path: "/t/oauth2/v2.0/token",
            grant_type: None,
        };
        let other = Target { path: "/x", ..t };
        assert!(take(&mut faults, &other).is_none());
        assert!(take(&mut faults, &t).is_some());
        assert!(take(&mut faults, &t).is_some());
        assert!(take(&mut faults, &t).is_none());
        assert!(
            ActiveFault::new(FaultRule {
                status: Some(1000),
                ..Default::default()
            })
            .is_err()
        );
    }
}
