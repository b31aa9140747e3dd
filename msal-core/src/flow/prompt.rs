//! [`Prompt`]: the OpenID Connect `prompt` parameter of the authorization request.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

/// What the sign-in page is to do (the `prompt` parameter; OpenID Connect Core 1.0 section
/// 3.1.2.1, plus Entra ID's `select_account` and `create`).
///
/// MSAL Python takes a free string, with the same values in `msal.Prompt`
/// (msal/oauth2cli/oidc.py); a value this type does not know yet goes in
/// [`Other`](Prompt::Other) and is sent as it is. [`FromStr`] maps the known names (exactly,
/// as the identity provider compares them) to their variants and anything else to `Other`.
///
/// ```
/// use msal_core::Prompt;
///
/// assert_eq!("select_account".parse::<Prompt>(), Ok(Prompt::SelectAccount));
/// assert_eq!(Prompt::Login.as_str(), "login");
/// assert_eq!(Prompt::Other("some_future_value".into()).as_str(), "some_future_value");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Prompt {
    /// `none`: no page at all; fails with `interaction_required` (or `login_required`,
    /// `consent_required`) if the user would have to do something. Inside Azure Cloud Shell
    /// the interactive flow then gets the shell's user, with no browser.
    None,
    /// `login`: the user enters their credentials again, even with a session.
    Login,
    /// `consent`: the consent page is shown, even when consent was given.
    Consent,
    /// `select_account`: the account picker is shown, even with one session.
    SelectAccount,
    /// `create`: the sign-up page (Entra External ID / B2C self-service sign-up).
    Create,
    /// Any other value, sent verbatim.
    Other(String),
}

impl Prompt {
    /// The value sent on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Prompt::None => "none",
            Prompt::Login => "login",
            Prompt::Consent => "consent",
            Prompt::SelectAccount => "select_account",
            Prompt::Create => "create",
            Prompt::Other(s) => s,
        }
    }

    /// Whether this is `none` (the known variant or an `Other("none")`).
    pub(crate) fn is_no_prompt(&self) -> bool {
        self.as_str() == "none"
    }
}

impl FromStr for Prompt {
    type Err = Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "none" => Prompt::None,
            "login" => Prompt::Login,
            "consent" => Prompt::Consent,
            "select_account" => Prompt::SelectAccount,
            "create" => Prompt::Create,
            other => Prompt::Other(other.to_owned()),
        })
    }
}

impl fmt::Display for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
