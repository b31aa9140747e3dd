//! The attribute names the macros understand, as constants rather than string literals.

use std::fmt;

use syn::{Ident, Path};

/// An attribute or argument name.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Symbol(pub(crate) &'static str);

/// `#[resource("https://graph.microsoft.com")]` on the type.
pub(crate) const RESOURCE: Symbol = Symbol("resource");
/// `#[scope("User.Read")]` on a variant.
pub(crate) const SCOPE: Symbol = Symbol("scope");
/// `#[msal(...)]`: options about the generated code.
pub(crate) const MSAL: Symbol = Symbol("msal");
/// `#[msal(crate = "path")]`: where msal-core is.
pub(crate) const CRATE: Symbol = Symbol("crate");
/// Doc comments (`///` lowers to `#[doc = "..."]`).
pub(crate) const DOC: Symbol = Symbol("doc");

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for &Ident {
    fn eq(&self, word: &Symbol) -> bool {
        *self == word.0
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl PartialEq<Symbol> for &Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}
