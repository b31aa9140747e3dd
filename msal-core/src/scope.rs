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
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::error::{Error, Result};

/// The OpenID Connect scopes MSAL adds to every user-token request.
pub(crate) const RESERVED_SCOPES: [&str; 3] = ["offline_access", "openid", "profile"];

/// A validated, sorted, de-duplicated set of scopes.
///
/// Cloning never copies the scopes: a set built at run time shares them (an atomic reference
/// count), a `'static` one borrows them.
#[derive(Clone)]
pub struct ScopeSet {
    scopes: Scopes,
    /// [`scope_hash`] of the scopes, computed once.
    hash: u64,
}

/// Where the scopes of a [`ScopeSet`] live.
#[derive(Clone)]
enum Scopes {
    /// `'static` scopes (`msal-macros`, constants).
    Static(&'static [Cow<'static, str>]),
    /// Scopes built at run time, shared by every clone.
    Shared(Arc<[Cow<'static, str>]>),
}

impl PartialEq for ScopeSet {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.as_slice() == other.as_slice()
    }
}

impl Eq for ScopeSet {}

impl Hash for ScopeSet {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

/// FNV-1a over the ASCII-lowercased bytes of one scope, finished by a 64-bit mixer so that
/// the sum of several stays well distributed.
const fn one_scope_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i].to_ascii_lowercase() as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    // splitmix64's finaliser.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// An order-independent, ASCII-case-insensitive hash of a list of scopes: the sum of the
/// scopes' hashes. Two lists holding the same scopes (up to ASCII case), each once, hash
/// alike in any order; the cache uses it to file an access token under its exact scope set
/// (and always compares the scopes themselves before serving one).
pub(crate) fn scope_hash<'a>(scopes: impl IntoIterator<Item = &'a str>) -> u64 {
    scopes.into_iter().fold(0u64, |acc, s| {
        acc.wrapping_add(one_scope_hash(s.as_bytes()))
    })
}

/// [`scope_hash`] of `'static` scopes, at compile time.
const fn static_scope_hash(scopes: &[Cow<'static, str>]) -> u64 {
    let mut acc = 0u64;
    let mut i = 0;
    while i < scopes.len() {
        let bytes = match &scopes[i] {
            Cow::Borrowed(s) => s.as_bytes(),
            Cow::Owned(s) => s.as_bytes(),
        };
        acc = acc.wrapping_add(one_scope_hash(bytes));
        i += 1;
    }
    acc
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
            scopes: Scopes::Static(scopes),
            hash: static_scope_hash(scopes),
        }
    }

    fn as_slice(&self) -> &[Cow<'static, str>] {
        match &self.scopes {
            Scopes::Static(s) => s,
            Scopes::Shared(s) => s,
        }
    }

    /// The order-independent, case-insensitive hash of the scopes (see [`scope_hash`]).
    pub(crate) fn scope_hash(&self) -> u64 {
        self.hash
    }

    fn from_validated(mut v: Vec<Cow<'static, str>>) -> ScopeSet {
        v.sort_unstable();
        let mut out: Vec<Cow<'static, str>> = Vec::with_capacity(v.len());
        for s in v {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(&s)) {
                out.push(s);
            }
        }
        let hash = scope_hash(out.iter().map(|s| s.as_ref()));
        ScopeSet {
            scopes: Scopes::Shared(Arc::from(out)),
            hash,
        }
    }

    /// The scopes, in code-point order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.as_slice().iter().map(|s| s.as_ref())
    }

    /// How many scopes the set holds.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// True when the set holds no scope.
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// True when the set holds `scope`, compared case-insensitively.
    pub fn contains(&self, scope: &str) -> bool {
        self.as_slice()
            .iter()
            .any(|s| s.eq_ignore_ascii_case(scope))
    }

    /// The scopes joined by single spaces, in code-point order: the wire form of `scope`.
    pub fn to_wire(&self) -> String {
        self.as_slice().join(" ")
    }

    /// True when every scope of this set occurs in the space-separated `target`, compared
    /// case-insensitively (a cache entry's target may hold more scopes than asked for).
    pub fn is_subset_of_target(&self, target: &str) -> bool {
        self.as_slice()
            .iter()
            .all(|s| target.split(' ').any(|t| t.eq_ignore_ascii_case(s)))
    }

    /// True when any scope of this set is one of the reserved OIDC scopes.
    pub(crate) fn has_reserved(&self) -> bool {
        self.as_slice()
            .iter()
            .any(|s| RESERVED_SCOPES.iter().any(|r| r.eq_ignore_ascii_case(s)))
    }

    /// This set plus `openid profile offline_access`: the scopes of a user-token request.
    pub(crate) fn with_reserved(&self) -> ScopeSet {
        let mut v: Vec<Cow<'static, str>> = self.as_slice().to_vec();
        v.extend(RESERVED_SCOPES.iter().map(|s| Cow::Borrowed(*s)));
        ScopeSet::from_validated(v)
    }

    /// This set less the scopes in `exclude`, compared exactly (msal/application.py
    /// `_decorate_scope` subtracts the app's `exclude_scopes` with a Python set difference).
    pub(crate) fn without(self, exclude: &[String]) -> ScopeSet {
        if exclude.is_empty() {
            return self;
        }
        let mut v: Vec<Cow<'static, str>> = self.as_slice().to_vec();
        v.retain(|s| !exclude.iter().any(|e| e == s.as_ref()));
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
        assert!(matches!(c.scopes, Scopes::Static(_)));
        assert_eq!(
            c.scope_hash(),
            scope_hash(["https://graph.microsoft.com/.default"])
        );
    }

    #[test]
    fn clones_share_the_scopes() {
        let a = ScopeSet::new(["b".to_owned(), "a".to_owned()]).expect("valid");
        let b = a.clone();
        match (&a.scopes, &b.scopes) {
            (Scopes::Shared(x), Scopes::Shared(y)) => assert!(Arc::ptr_eq(x, y)),
            _ => panic!("a run-time set is shared"),
        }
    }

    #[test]
    fn scope_hash_ignores_order_and_ascii_case() {
        let a = ScopeSet::new(["User.Read", "Mail.Send"]).expect("valid");
        assert_eq!(a.scope_hash(), scope_hash(["mail.send", "USER.READ"]));
        assert_eq!(a.scope_hash(), scope_hash("user.read MAIL.send".split(' ')));
        assert_ne!(a.scope_hash(), scope_hash(["user.read"]));
        assert_ne!(
            a.scope_hash(),
            scope_hash(["user.read", "mail.send", "mail.send"])
        );
        assert_eq!(
            scope_hash([]),
            ScopeSet::new(Vec::<String>::new())
                .expect("ok")
                .scope_hash()
        );
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
