//! Scopes: the input trait every acquisition accepts ([`IntoScopes`]) and the normalised set
//! the library works with ([`ScopeSet`]).
//!
//! A [`ScopeSet`] is sorted by code point (the order MSAL puts on the wire and in cache
//! targets), free of duplicates (compared case-insensitively, as Entra compares scopes), and
//! validated (no empty scope, no whitespace or control characters). A set built from
//! `'static` strings — what `msal-macros` generates — borrows them and clones without
//! allocating.

use std::borrow::Cow;
use std::fmt;

use crate::error::{Error, Result};

/// The OpenID Connect scopes MSAL adds to every user-token request.
pub(crate) const RESERVED_SCOPES: [&str; 3] = ["offline_access", "openid", "profile"];

/// A validated, sorted, de-duplicated set of scopes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ScopeSet {
    scopes: Cow<'static, [Cow<'static, str>]>,
}

impl ScopeSet {
    /// Builds a set from scope strings: validates each one, sorts them by code point and drops
    /// case-insensitive duplicates (the first in sort order wins).
    pub fn new<I, S>(scopes: I) -> Result<ScopeSet>
    where
        I: IntoIterator<Item = S>,
        S: Into<Cow<'static, str>>,
    {
        let mut v: Vec<Cow<'static, str>> = Vec::new();
        for s in scopes {
            let s = s.into();
            validate_scope(&s)?;
            v.push(s);
        }
        Ok(ScopeSet::from_validated(v))
    }

    /// A set whose scopes are already validated, sorted and de-duplicated. Used by
    /// `msal-macros`, which checks these properties at compile time.
    #[doc(hidden)]
    pub const fn from_static_sorted(scopes: &'static [Cow<'static, str>]) -> ScopeSet {
        ScopeSet {
            scopes: Cow::Borrowed(scopes),
        }
    }

    fn from_validated(mut v: Vec<Cow<'static, str>>) -> ScopeSet {
        v.sort_unstable();
        let mut out: Vec<Cow<'static, str>> = Vec::with_capacity(v.len());
        for s in v {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(&s)) {
                out.push(s);
            }
        }
        ScopeSet {
            scopes: Cow::Owned(out),
        }
    }

    /// The scopes, in code-point order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.scopes.iter().map(|s| s.as_ref())
    }

    /// How many scopes the set holds.
    pub fn len(&self) -> usize {
        self.scopes.len()
    }

    /// True when the set holds no scope.
    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }

    /// True when the set holds `scope`, compared case-insensitively.
    pub fn contains(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s.eq_ignore_ascii_case(scope))
    }

    /// The scopes joined by single spaces, in code-point order: the wire form of `scope`.
    pub fn to_wire(&self) -> String {
        self.scopes.join(" ")
    }

    /// True when every scope of this set occurs in the space-separated `target`, compared
    /// case-insensitively (a cache entry's target may hold more scopes than asked for).
    pub fn is_subset_of_target(&self, target: &str) -> bool {
        self.scopes
            .iter()
            .all(|s| target.split(' ').any(|t| t.eq_ignore_ascii_case(s)))
    }

    /// True when any scope of this set is one of the reserved OIDC scopes.
    pub(crate) fn has_reserved(&self) -> bool {
        self.scopes
            .iter()
            .any(|s| RESERVED_SCOPES.iter().any(|r| r.eq_ignore_ascii_case(s)))
    }

    /// This set plus `openid profile offline_access`: the scopes of a user-token request.
    pub(crate) fn with_reserved(&self) -> ScopeSet {
        let mut v: Vec<Cow<'static, str>> = self.scopes.iter().cloned().collect();
        v.extend(RESERVED_SCOPES.iter().map(|s| Cow::Borrowed(*s)));
        ScopeSet::from_validated(v)
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_wire())
    }
}

/// Checks one scope: not empty, no whitespace, no control characters.
pub(crate) fn validate_scope(s: &str) -> Result<()> {
    if s.is_empty() {
        return Err(Error::invalid_input("a scope is empty"));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid_input(
            "a scope contains whitespace or a control character",
        ));
    }
    Ok(())
}

/// One scope: what a list of scopes can be made of (`&str`, `String`, derived resources).
pub trait Scope {
    /// The full scope string, e.g. `https://graph.microsoft.com/User.Read`.
    fn scope_str(&self) -> Cow<'static, str>;
}

impl Scope for &str {
    fn scope_str(&self) -> Cow<'static, str> {
        Cow::Owned((*self).to_owned())
    }
}

impl Scope for String {
    fn scope_str(&self) -> Cow<'static, str> {
        Cow::Owned(self.clone())
    }
}

impl Scope for &String {
    fn scope_str(&self) -> Cow<'static, str> {
        Cow::Owned((*self).clone())
    }
}

/// Anything an `acquire_*` method accepts as its scopes.
///
/// Implemented for a single `&str` or `String` (split on whitespace, so `"User.Read Mail.Send"`
/// is two scopes), for arrays, slices and vectors of anything implementing [`Scope`], and for
/// [`ScopeSet`] (which the derives of `msal-macros` produce).
pub trait IntoScopes {
    /// Converts into a validated [`ScopeSet`].
    fn into_scopes(self) -> Result<ScopeSet>;
}

impl IntoScopes for ScopeSet {
    fn into_scopes(self) -> Result<ScopeSet> {
        Ok(self)
    }
}

impl IntoScopes for &ScopeSet {
    fn into_scopes(self) -> Result<ScopeSet> {
        Ok(self.clone())
    }
}

impl IntoScopes for &str {
    fn into_scopes(self) -> Result<ScopeSet> {
        let set = ScopeSet::new(self.split_whitespace().map(|s| Cow::Owned(s.to_owned())))?;
        if set.is_empty() {
            return Err(Error::invalid_input("no scope given"));
        }
        Ok(set)
    }
}

impl IntoScopes for String {
    fn into_scopes(self) -> Result<ScopeSet> {
        self.as_str().into_scopes()
    }
}

impl IntoScopes for &String {
    fn into_scopes(self) -> Result<ScopeSet> {
        self.as_str().into_scopes()
    }
}

impl<T: Scope, const N: usize> IntoScopes for [T; N] {
    fn into_scopes(self) -> Result<ScopeSet> {
        ScopeSet::new(self.iter().map(Scope::scope_str))
    }
}

impl<T: Scope, const N: usize> IntoScopes for &[T; N] {
    fn into_scopes(self) -> Result<ScopeSet> {
        ScopeSet::new(self.iter().map(Scope::scope_str))
    }
}

impl<T: Scope> IntoScopes for &[T] {
    fn into_scopes(self) -> Result<ScopeSet> {
        ScopeSet::new(self.iter().map(Scope::scope_str))
    }
}

impl<T: Scope> IntoScopes for Vec<T> {
    fn into_scopes(self) -> Result<ScopeSet> {
        ScopeSet::new(self.iter().map(Scope::scope_str))
    }
}

impl<T: Scope> IntoScopes for &Vec<T> {
    fn into_scopes(self) -> Result<ScopeSet> {
        ScopeSet::new(self.iter().map(Scope::scope_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sorted_by_code_point_and_deduplicated_case_insensitively() {
        let s = ["profile", "User.Read", "openid", "user.read", "Mail.Send"]
            .into_scopes()
            .expect("valid");
        assert_eq!(s.to_wire(), "Mail.Send User.Read openid profile");
        assert!(s.contains("USER.READ"));
        assert!(s.has_reserved());
    }

    #[test]
    fn reserved_decoration_matches_msal_python_wire_order() {
        let s = "User.Read".into_scopes().expect("valid");
        assert_eq!(
            s.with_reserved().to_wire(),
            "User.Read offline_access openid profile"
        );
    }

    #[test]
    fn rejects_bad_scopes() {
        assert!(["a b"].into_scopes().is_err());
        assert!([""].into_scopes().is_err());
        assert!(["a\u{7}"].into_scopes().is_err());
        assert!("   ".into_scopes().is_err());
        assert!(
            Vec::<String>::new()
                .into_scopes()
                .expect("empty ok")
                .is_empty()
        );
    }

    #[test]
    fn subset_of_target_is_case_insensitive() {
        let s = ["https://graph.microsoft.com/user.read"]
            .into_scopes()
            .expect("valid");
        assert!(s.is_subset_of_target("https://graph.microsoft.com/User.Read openid profile"));
        assert!(!s.is_subset_of_target("https://graph.microsoft.com/Mail.Send"));
    }

    #[test]
    fn static_sets_clone_without_owning() {
        static SCOPES: [Cow<'static, str>; 1] =
            [Cow::Borrowed("https://graph.microsoft.com/.default")];
        static SET: ScopeSet = ScopeSet::from_static_sorted(&SCOPES);
        let c = (&SET).into_scopes().expect("valid");
        assert!(matches!(c.scopes, Cow::Borrowed(_)));
    }

    proptest! {
        #[test]
        fn normalisation_is_idempotent_and_sorted(v in proptest::collection::vec("[A-Za-z./:_]{1,12}", 0..8)) {
            let a = ScopeSet::new(v.clone()).expect("valid");
            let b = ScopeSet::new(a.iter().map(str::to_owned).collect::<Vec<_>>()).expect("valid");
            prop_assert_eq!(&a, &b);
            let items: Vec<&str> = a.iter().collect();
            prop_assert!(items.windows(2).all(|w| w[0] < w[1]));
            for s in &v {
                prop_assert!(a.contains(s));
            }
        }
    }
}
