//! Fault rules of the managed-identity sources: matched in order, counted down, and turned into
//! canned answers (verbatim bodies, or the source's own error shape).

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

use crate::model::{ManagedIdentityFault, ManagedIdentitySource};

use super::answers;

/// A rule with its remaining count (`None`: until cleared).
#[derive(Debug, Clone)]
pub(crate) struct ActiveMiFault {
    rule: ManagedIdentityFault,
    remaining: Option<u32>,
}

impl ActiveMiFault {
    /// Checks a rule from the admin API.
    pub(crate) fn new(rule: ManagedIdentityFault) -> Result<Self, String> {
        if rule.status != 0 && !(100..=599).contains(&rule.status) {
            return Err(format!("invalid status {}", rule.status));
        }
        if let Some(v) = &rule.retry_after {
            HeaderValue::from_str(v).map_err(|_| format!("invalid Retry-After value {v:?}"))?;
        }
        if rule.times == Some(0) {
            return Err("times must be at least 1 (leave it out: until cleared)".into());
        }
        if rule.status == 0 && (rule.body.is_some() || rule.retry_after.is_some()) {
            return Err("body and retry_after need a status".into());
        }
        if rule.status == 0 && rule.delay_ms.is_none() && !rule.wrong_echo {
            return Err("the rule does nothing: give a status, a delay_ms or wrong_echo".into());
        }
        Ok(Self {
            remaining: rule.times,
            rule,
        })
    }

    /// The rule as listed: `times` is the remaining count.
    pub(crate) fn listed(&self) -> ManagedIdentityFault {
        ManagedIdentityFault {
            times: self.remaining,
            ..self.rule.clone()
        }
    }

    fn matches(&self, source: ManagedIdentitySource, authorized: bool) -> bool {
        let r = &self.rule;
        let source_ok = r.source == ManagedIdentitySource::Any || r.source == source;
        let stage_ok = !(r.after_challenge || r.wrong_echo)
            || (source == ManagedIdentitySource::Arc && authorized);
        source_ok && stage_ok
    }
}

/// Takes the first rule matching a request to `source` (`authorized`: it carries an
/// `Authorization` header), counting it down.
pub(crate) fn take(
    faults: &mut Vec<ActiveMiFault>,
    source: ManagedIdentitySource,
    authorized: bool,
) -> Option<ManagedIdentityFault> {
    let i = faults.iter().position(|f| f.matches(source, authorized))?;
    let fault = faults.get_mut(i)?;
    let rule = fault.rule.clone();
    if let Some(n) = &mut fault.remaining {
        *n = n.saturating_sub(1);
        if *n == 0 {
            faults.remove(i);
        }
    }
    Some(rule)
}

/// The content type of a verbatim body: JSON when it parses, HTML when it looks like markup,
/// text otherwise.
fn content_type(body: &str) -> &'static str {
    if serde_json::from_str::<serde_json::Value>(body).is_ok() {
        "application/json; charset=utf-8"
    } else if body.trim_start().starts_with('<') {
        "text/html; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    }
}

/// The canned answer of `rule` for `source`, or `None` when it answers normally (status 0).
pub(crate) fn response(
    rule: &ManagedIdentityFault,
    source: ManagedIdentitySource,
) -> Option<Response> {
    let status = StatusCode::from_u16(rule.status)
        .ok()
        .filter(|_| rule.status != 0)?;
    let mut resp = match &rule.body {
        Some(body) => {
            let mut resp = Response::new(Body::from(body.clone()));
            *resp.status_mut() = status;
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(body)),
            );
            resp
        }
        None => answers::status_error(source, status),
    };
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

    fn rule(source: ManagedIdentitySource, times: Option<u32>) -> ManagedIdentityFault {
        ManagedIdentityFault {
            source,
            status: 503,
            times,
            ..Default::default()
        }
    }

    #[test]
    fn in_order_and_counted_down() {
        let mut faults = vec![
            ActiveMiFault::new(rule(ManagedIdentitySource::Arc, Some(1))).unwrap(),
            ActiveMiFault::new(rule(ManagedIdentitySource::Any, Some(2))).unwrap(),
        ];
        let imds = ManagedIdentitySource::Imds;
        let arc = ManagedIdentitySource::Arc;
        assert_eq!(take(&mut faults, imds, false).unwrap().times, Some(2));
        assert_eq!(take(&mut faults, arc, false).unwrap().source, arc);
        assert_eq!(
            take(&mut faults, arc, false).unwrap().source,
            ManagedIdentitySource::Any
        );
        assert!(take(&mut faults, arc, false).is_none());
        assert!(faults.is_empty());
    }

    #[test]
    fn until_cleared_and_after_challenge() {
        let echo = ManagedIdentityFault {
            source: ManagedIdentitySource::Any,
            wrong_echo: true,
            ..Default::default()
        };
        let mut faults = vec![ActiveMiFault::new(echo).unwrap()];
        assert!(take(&mut faults, ManagedIdentitySource::Arc, false).is_none());
        assert!(take(&mut faults, ManagedIdentitySource::Imds, true).is_none());
        for _ in 0..3 {
            assert!(take(&mut faults, ManagedIdentitySource::Arc, true).is_some());
        }
        assert_eq!(faults.len(), 1);
    }

    #[test]
    fn invalid_rules() {
        let bad_status = ManagedIdentityFault {
            status: 1000,
            ..Default::default()
        };
        assert!(ActiveMiFault::new(bad_status).is_err());
        let zero = rule(ManagedIdentitySource::Any, Some(0));
        assert!(ActiveMiFault::new(zero).is_err());
        let nothing = ManagedIdentityFault::default();
        assert!(ActiveMiFault::new(nothing).is_err());
        let header = ManagedIdentityFault {
            status: 429,
            retry_after: Some("1\n2".into()),
            ..Default::default()
        };
        assert!(ActiveMiFault::new(header).is_err());
        let body_alone = ManagedIdentityFault {
            body: Some("x".into()),
            delay_ms: Some(1),
            ..Default::default()
        };
        assert!(ActiveMiFault::new(body_alone).is_err());
    }

    #[test]
    fn verbatim_bodies_and_content_types() {
        assert_eq!(content_type("{\"a\":1}"), "application/json; charset=utf-8");
        assert_eq!(content_type(" <html>"), "text/html; charset=utf-8");
        assert_eq!(content_type("garbage{"), "text/plain; charset=utf-8");
        let r = ManagedIdentityFault {
            status: 429,
            retry_after: Some("7".into()),
            body: Some("slow down".into()),
            ..Default::default()
        };
        let resp = response(&r, ManagedIdentitySource::Imds).unwrap();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "7");
        let normal = ManagedIdentityFault {
            delay_ms: Some(1),
            ..Default::default()
        };
        assert!(response(&normal, ManagedIdentitySource::Imds).is_none());
    }
}
