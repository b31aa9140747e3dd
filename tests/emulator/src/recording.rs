//! Filtering recorded requests.

use super::model::{ManagedIdentitySource, RecordedRequest, RequestFilter};

/// Whether `r` passes `filter`.
pub(crate) fn matches(r: &RecordedRequest, filter: &RequestFilter) -> bool {
    filter
        .host
        .as_deref()
        .is_none_or(|h| h.eq_ignore_ascii_case(&r.host))
        && filter
            .path_contains
            .as_deref()
            .is_none_or(|p| r.path.contains(p))
        && filter
            .grant_type
            .as_deref()
            .is_none_or(|g| r.form_value("grant_type") == Some(g))
        && filter.source.is_none_or(|s| match (s, r.source) {
            (_, None) => false,
            (ManagedIdentitySource::Any, Some(_)) => true,
            (s, Some(got)) => s == got,
        })
}

/// The recorded requests passing `filter`, in arrival order.
pub(crate) fn select(all: &[RecordedRequest], filter: &RequestFilter) -> Vec<RecordedRequest> {
    let mut out: Vec<RecordedRequest> =
        all.iter().filter(|r| matches(r, filter)).cloned().collect();
    out.sort_by_key(|r| r.seq);
    out
}
