//! Scopes: the input trait every acquisition accepts ([`IntoScopes`]) and the normalised set
//! the library works with ([`ScopeSet`]).
//!
//! A [`ScopeSet`] is sorted by code point (the order MSAL puts on the wire and in cache
//! targets), free of duplicates (compared case-insensitively, as Entra compares scopes), and
//! validated (no empty scope, no whitespace or control characters). A set built from
//! `'static` strings — what `msal-macros` generates — borrows them and clones without
//! allocating. A short list given as a `&str`, `String` or array/slice of them (what most
//! callers write) is normalised on the stack and kept inside the set, so it allocates nothing
//! either: a cache hit costs no heap allocation whichever way the scopes are written.

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrayvec::ArrayString;

use crate::error::{Error, Result};

/// The OpenID Connect scopes MSAL adds to every user-token request.
pub(crate) const RESERVED_SCOPES: [&str; 3] = ["offline_access", "openid", "profile"];

/// Bytes of scope text (joined by single spaces) a set built at run time keeps inline, without
/// a heap allocation. Fits two Microsoft Graph scopes, or one plus the reserved OIDC scopes.
const INLINE_BYTES: usize = 112;

/// How many scopes a run-time list may hold to be normalised on the stack; longer lists are
/// normalised on the heap.
const STACK_SCOPES: usize = 8;

/// A validated, sorted, de-duplicated set of scopes.
///
/// Cloning never allocates: a `'static` set borrows its scopes, a short one built at run time
/// holds them inline (up to 112 bytes), a longer one shares them (an atomic reference count).
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
    /// A short run-time list, in the set itself: the scopes joined by single spaces (their
    /// wire form; never empty), and how many there are.
    Inline(ArrayString<INLINE_BYTES>, u8),
}

/// The scopes of a set, in order.
enum Iter<'a> {
    Slice(std::slice::Iter<'a, Cow<'static, str>>),
    Joined(std::str::Split<'a, char>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        match self {
            Iter::Slice(i) => i.next().map(|s| s.as_ref()),
            Iter::Joined(i) => i.next(),
        }
    }
}

impl PartialEq for ScopeSet {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.iter().eq(other.iter())
    }
}

impl Eq for ScopeSet {}

impl Hash for ScopeSet {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for s in self.iter() {
            s.hash(state);
        }
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
    finish_scope_hash(h)
}

/// The end of [`one_scope_hash`]: splitmix64's finaliser over the FNV-1a state.
const fn finish_scope_hash(mut h: u64) -> u64 {
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

/// The empty set, borrowed.
const EMPTY: ScopeSet = ScopeSet::from_static_sorted(&[]);

impl ScopeSet {
    /// Builds a set from scope strings: validates each one, sorts them by code point and drops
    /// case-insensitive duplicates (the first in sort order wins). The set shares the scopes
    /// with its clones; `acquire_*` calls given a `&str` or an array of them instead normalise
    /// short lists without allocating (see [`IntoScopes`]).
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

    /// Normalises borrowed scopes (validating each when `validate`): on the stack, and into
    /// the set itself when they fit [`INLINE_BYTES`], so a short list allocates nothing; a
    /// longer one takes the heap path of [`ScopeSet::new`].
    fn from_borrowed<'s>(
        scopes: impl IntoIterator<Item = Cow<'s, str>>,
        validate: bool,
    ) -> Result<ScopeSet> {
        let mut it = scopes.into_iter();
        let Some(first) = it.next() else {
            return Ok(EMPTY);
        };
        let second = it.next();
        if second.is_none()
            && let Some(set) = ScopeSet::single(&first)
        {
            return Ok(set);
        }
        let mut it = std::iter::once(first).chain(second).chain(it);
        let mut held: [Cow<'s, str>; STACK_SCOPES] = Default::default();
        let mut n = 0;
        for s in it.by_ref() {
            if validate {
                validate_scope(&s)?;
            }
            let Some(slot) = held.get_mut(n) else {
                // Too many for the stack: everything to the heap.
                let mut v: Vec<Cow<'static, str>> = held
                    .into_iter()
                    .chain(std::iter::once(s))
                    .map(|c| Cow::Owned(c.into_owned()))
                    .collect();
                for s in it {
                    if validate {
                        validate_scope(&s)?;
                    }
                    v.push(Cow::Owned(s.into_owned()));
                }
                return Ok(ScopeSet::from_validated(v));
            };
            *slot = s;
            n += 1;
        }
        let held = held.get_mut(..n).unwrap_or_default();
        held.sort_unstable();
        // Case-insensitive de-duplication, the first in sort order kept: kept scopes move to
        // the front, in order.
        let mut kept = 0;
        for i in 0..held.len() {
            let (front, rest) = held.split_at(i);
            let dup = rest.first().is_some_and(|s| {
                front
                    .get(..kept)
                    .unwrap_or_default()
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(s))
            });
            if !dup {
                held.swap(kept, i);
                kept += 1;
            }
        }
        let kept = held.get(..kept).unwrap_or_default();
        if kept.is_empty() {
            return Ok(EMPTY);
        }
        let hash = scope_hash(kept.iter().map(|s| s.as_ref()));
        let mut joined = ArrayString::<INLINE_BYTES>::new();
        let fits = kept.iter().enumerate().all(|(i, s)| {
            (i == 0 || joined.try_push(' ').is_ok()) && joined.try_push_str(s).is_ok()
        });
        if let (true, Ok(count)) = (fits, u8::try_from(kept.len())) {
            return Ok(ScopeSet {
                scopes: Scopes::Inline(joined, count),
                hash,
            });
        }
        let v: Vec<Cow<'static, str>> = kept
            .iter()
            .map(|c| Cow::Owned(c.as_ref().to_owned()))
            .collect();
        Ok(ScopeSet {
            scopes: Scopes::Shared(Arc::from(v)),
            hash,
        })
    }

    /// One scope in one pass over its bytes — validated, hashed and copied into the set — when
    /// it is ASCII, fits inline and holds no whitespace or control character (the common case:
    /// `"https://graph.microsoft.com/.default"`); `None` sends the caller to the general path,
    /// which also reports what is wrong with a bad scope.
    fn single(s: &str) -> Option<ScopeSet> {
        if s.is_empty() || s.len() > INLINE_BYTES {
            return None;
        }
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in s.as_bytes() {
            // Space, controls, DEL and every non-ASCII byte.
            if b <= b' ' || b >= 0x7f {
                return None;
            }
            h ^= u64::from(b.to_ascii_lowercase());
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        let joined = ArrayString::from(s).ok()?;
        Some(ScopeSet {
            scopes: Scopes::Inline(joined, 1),
            hash: finish_scope_hash(h),
        })
    }

    /// The scopes, in code-point order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        match &self.scopes {
            Scopes::Static(s) => Iter::Slice(s.iter()),
            Scopes::Shared(s) => Iter::Slice(s.iter()),
            Scopes::Inline(j, _) => Iter::Joined(j.split(' ')),
        }
    }

    /// How many scopes the set holds.
    pub fn len(&self) -> usize {
        match &self.scopes {
            Scopes::Static(s) => s.len(),
            Scopes::Shared(s) => s.len(),
            Scopes::Inline(_, n) => usize::from(*n),
        }
    }

    /// The scope of a one-scope set.
    pub(crate) fn only(&self) -> Option<&str> {
        match &self.scopes {
            Scopes::Static([only]) => Some(only),
            Scopes::Shared(s) => match &s[..] {
                [only] => Some(only),
                _ => None,
            },
            Scopes::Inline(j, 1) => Some(j),
            _ => None,
        }
    }

    /// True when the set holds no scope.
    pub fn is_empty(&self) -> bool {
        match &self.scopes {
            Scopes::Static(s) => s.is_empty(),
            Scopes::Shared(s) => s.is_empty(),
            Scopes::Inline(..) => false,
        }
    }

    /// True when the set holds `scope`, compared case-insensitively.
    pub fn contains(&self, scope: &str) -> bool {
        self.iter().any(|s| s.eq_ignore_ascii_case(scope))
    }

    /// The scopes joined by single spaces, in code-point order: the wire form of `scope`.
    pub fn to_wire(&self) -> String {
        match &self.scopes {
            Scopes::Static(s) => s.join(" "),
            Scopes::Shared(s) => s.join(" "),
            Scopes::Inline(j, _) => j.as_str().to_owned(),
        }
    }

    /// True when every scope of this set occurs in the space-separated `target`, compared
    /// case-insensitively (a cache entry's target may hold more scopes than asked for).
    pub fn is_subset_of_target(&self, target: &str) -> bool {
        self.iter()
            .all(|s| target.split(' ').any(|t| t.eq_ignore_ascii_case(s)))
    }

    /// True when any scope of this set is one of the reserved OIDC scopes.
    pub(crate) fn has_reserved(&self) -> bool {
        self.iter()
            .any(|s| RESERVED_SCOPES.iter().any(|r| r.eq_ignore_ascii_case(s)))
    }

    /// This set plus `openid profile offline_access`: the scopes of a user-token request.
    pub(crate) fn with_reserved(&self) -> ScopeSet {
        let all = self.iter().chain(RESERVED_SCOPES).map(Cow::Borrowed);
        // Nothing to validate, so this cannot fail; the heap path is the fallback anyway.
        ScopeSet::from_borrowed(all, false).unwrap_or_else(|_| {
            ScopeSet::from_validated(
                self.iter()
                    .chain(RESERVED_SCOPES)
                    .map(|s| Cow::Owned(s.to_owned()))
                    .collect(),
            )
        })
    }

    /// This set less the scopes in `exclude`, compared exactly (msal/application.py
    /// `_decorate_scope` subtracts the app's `exclude_scopes` with a Python set difference).
    pub(crate) fn without(self, exclude: &[String]) -> ScopeSet {
        if exclude.is_empty() {
            return self;
        }
        let v: Vec<Cow<'static, str>> = self
            .iter()
            .filter(|s| !exclude.iter().any(|e| e == s))
            .map(|s| Cow::Owned(s.to_owned()))
            .collect();
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
    // ASCII (nearly every scope): whitespace and control characters are the bytes up to
    // U+0020 and U+007F; anything else is checked character by character.
    let bad = if s.is_ascii() {
        s.bytes().any(|b| b <= b' ' || b == 0x7f)
    } else {
        s.chars().any(|c| c.is_whitespace() || c.is_control())
    };
    if bad {
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

    /// The scope string borrowed from `self` where it can be, which the `acquire_*` calls
    /// read without allocating; [`Scope::scope_str`] unless overridden.
    fn scope_ref(&self) -> Cow<'_, str> {
        self.scope_str()
    }
}

impl Scope for &str {
    fn scope_str(&self) -> Cow<'static, str> {
        Cow::Owned((*self).to_owned())
    }

    fn scope_ref(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl Scope for String {
    fn scope_str(&self) -> Cow<'static, str> {
        Cow::Owned(self.clone())
    }

    fn scope_ref(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl Scope for &String {
    fn scope_str(&self) -> Cow<'static, str> {
        Cow::Owned((*self).clone())
    }

    fn scope_ref(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

/// Anything an `acquire_*` method accepts as its scopes.
///
/// Implemented for a single `&str` or `String` (split on whitespace, so `"User.Read Mail.Send"`
/// is two scopes), for arrays, slices and vectors of anything implementing [`Scope`], and for
/// [`ScopeSet`] (which the derives of `msal-macros` produce). None of them allocates for a
/// short list (up to 8 scopes and 112 bytes).
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
        // One scope and nothing to split (the common case) takes the one-pass path.
        if let Some(set) = ScopeSet::single(self) {
            return Ok(set);
        }
        let set = ScopeSet::from_borrowed(self.split_whitespace().map(Cow::Borrowed), true)?;
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
        ScopeSet::from_borrowed(self.iter().map(Scope::scope_ref), true)
    }
}

impl<T: Scope, const N: usize> IntoScopes for &[T; N] {
    fn into_scopes(self) -> Result<ScopeSet> {
        ScopeSet::from_borrowed(self.iter().map(Scope::scope_ref), true)
    }
}

impl<T: Scope> IntoScopes for &[T] {
    fn into_scopes(self) -> Result<ScopeSet> {
        ScopeSet::from_borrowed(self.iter().map(Scope::scope_ref), true)
    }
}

impl<T: Scope> IntoScopes for Vec<T> {
    fn into_scopes(self) -> Result<ScopeSet> {
        ScopeSet::from_borrowed(self.iter().map(Scope::scope_ref), true)
    }
}

impl<T: Scope> IntoScopes for &Vec<T> {
    fn into_scopes(self) -> Result<ScopeSet> {
        ScopeSet::from_borrowed(self.iter().map(Scope::scope_ref), true)
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

    #[test]
    fn short_run_time_lists_are_inline_and_equal_to_shared_sets() {
        let one = "https://graph.microsoft.com/.default"
            .into_scopes()
            .expect("valid");
        assert!(matches!(one.scopes, Scopes::Inline(_, 1)));
        assert_eq!(
            one,
            ScopeSet::new(["https://graph.microsoft.com/.default"]).expect("valid")
        );
        let two = ["b", "A", "a"].into_scopes().expect("valid");
        assert!(matches!(two.scopes, Scopes::Inline(_, 2)));
        assert_eq!(two.to_wire(), "A b");
        assert_eq!(two.len(), 2);
        // Vertical tab is whitespace (split on), other controls are rejected, as before.
        assert_eq!("a\u{b}b".into_scopes().expect("valid").len(), 2);
        assert!("a\u{7}b".into_scopes().is_err());
        assert!(["a\u{7f}"].into_scopes().is_err());
        assert_eq!("  x  ".into_scopes().expect("valid").to_wire(), "x");
        // Non-ASCII scopes take the general path.
        assert_eq!("é".into_scopes().expect("valid").to_wire(), "é");
    }

    #[test]
    fn only_names_the_scope_of_one_scope_sets() {
        static SCOPES: [Cow<'static, str>; 1] = [Cow::Borrowed("x/.default")];
        static SET: ScopeSet = ScopeSet::from_static_sorted(&SCOPES);
        assert_eq!(SET.only(), Some("x/.default"));
        assert_eq!(
            "X/.default".into_scopes().expect("valid").only(),
            Some("X/.default")
        );
        assert_eq!(ScopeSet::new(["a"]).expect("valid").only(), Some("a"));
        assert_eq!(["a", "b"].into_scopes().expect("valid").only(), None);
        assert_eq!(ScopeSet::new(["a", "b"]).expect("valid").only(), None);
        assert_eq!(EMPTY.only(), None);
    }

    #[test]
    fn long_lists_fall_back_to_the_heap() {
        let many: Vec<String> = (0..20).map(|i| format!("s{i:02}")).collect();
        let set = many.into_scopes().expect("valid");
        assert!(matches!(set.scopes, Scopes::Shared(_)));
        assert_eq!(set.len(), 20);
        let long = format!("{} {}", "a".repeat(100), "b".repeat(100));
        let set = long.as_str().into_scopes().expect("valid");
        assert!(matches!(set.scopes, Scopes::Shared(_)));
        assert_eq!(set.to_wire(), long);
        assert!(
            std::iter::repeat_n("x", 9)
                .collect::<Vec<_>>()
                .into_scopes()
                .is_ok()
        );
        let reserved = set.with_reserved();
        assert_eq!(reserved.len(), 5);
    }

    proptest! {
        #[test]
        fn borrowed_lists_normalise_like_scope_set_new(v in proptest::collection::vec("[A-Za-z./:_]{1,30}", 0..12)) {
            let shared = ScopeSet::new(v.clone()).expect("valid");
            let borrowed = v.as_slice().into_scopes().expect("valid");
            prop_assert_eq!(&shared, &borrowed);
            prop_assert_eq!(shared.scope_hash(), borrowed.scope_hash());
            prop_assert_eq!(shared.len(), borrowed.len());
            prop_assert_eq!(shared.to_wire(), borrowed.to_wire());
            prop_assert_eq!(shared.with_reserved(), borrowed.with_reserved());
            if !v.is_empty() {
                let joined = v.join(" ");
                prop_assert_eq!(&joined.as_str().into_scopes().expect("valid"), &shared);
            }
        }

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
