//! # msal-macros: compile-time checked scopes for msal-core
//!
//! Use it through msal-core (its default `macros` feature re-exports both macros as
//! `msal_core::Resource` and `msal_core::scopes`); the generated code names `::msal_core`.
//!
//! - `#[derive(Resource)]` turns an enum (one scope per variant) or a unit struct (a resource
//!   used through `.default` only) into scopes every `acquire_*` method accepts.
//! - `scopes![...]` is a `&'static ScopeSet` checked, sorted and de-duplicated at compile time.
//!
//! Both reject, at the offending span and all at once: empty scopes, whitespace or control
//! characters, the reserved `openid`, `profile` and `offline_access` (MSAL adds them itself),
//! duplicates (compared case-insensitively), `.default` mixed with other scopes of its resource
//! (Entra answers AADSTS70011), and resources that are not an absolute `https://` or `api://`
//! URI without query or fragment, or a GUID.
//!
//! The scope names themselves are not checked against a list of permissions:
//! `#[scope("User.Raed")]` compiles, and Entra rejects it at run time. A misspelt variant
//! (`Graph::UserRaed`) is an ordinary rustc error.
//!
//! Set `MSAL_MACROS_DEBUG=1` while building to print every expansion to stderr (cargo does not
//! track the variable: touch the file that uses the macro to see it again).
//!
//! This crate only holds the entry points; the logic is in plain modules (`ast`, `attr`,
//! `check`, `expand`, `ctxt`, `symbol`) with their own unit tests.

mod ast;
mod attr;
mod check;
mod ctxt;
mod expand;
mod symbol;

use proc_macro::TokenStream;

/// Scopes of one resource as a type: an enum with one `#[scope("...")]` per variant, or a unit
/// struct standing for the resource's `.default` scope.
///
/// ```
/// use msal_core::{Resource, Scope, ScopeSet};
///
/// /// Microsoft Graph.
/// #[derive(Resource, Debug, Clone, Copy, PartialEq, Eq)]
/// #[resource("https://graph.microsoft.com")]
/// enum Graph {
///     /// Sign in and read the user's profile.
///     #[scope("User.Read")]
///     UserRead,
///     /// Send mail as the user.
///     #[scope("Mail.Send")]
///     MailSend,
/// }
///
/// assert_eq!(Graph::UserRead.scope_str(), "https://graph.microsoft.com/User.Read");
/// assert_eq!(Graph::MailSend.to_string(), "https://graph.microsoft.com/Mail.Send");
/// assert_eq!("user.read".parse::<Graph>()?, Graph::UserRead);
/// assert_eq!(Graph::ALL, [Graph::UserRead, Graph::MailSend]);
/// let default: &'static ScopeSet = Graph::default_scope();
/// assert_eq!(default.to_wire(), "https://graph.microsoft.com/.default");
///
/// // A resource used only through `.default`, named by its application id.
/// #[derive(Resource)]
/// #[resource("00000002-0000-0ff1-ce00-000000000000")]
/// struct Exchange;
/// assert_eq!(Exchange.to_string(), "00000002-0000-0ff1-ce00-000000000000/.default");
///
/// // Every acquisition takes them, with no allocation for a single derived scope.
/// # async fn run(app: msal_core::ConfidentialClient, pca: msal_core::PublicClient,
/// #              account: msal_core::Account) -> msal_core::Result<()> {
/// let token = app.acquire_token_for_client(Graph::default_scope()).await?;
/// let token = app.acquire_token_for_client(Exchange).await?;
/// let token = pca.acquire_token_silent([Graph::UserRead, Graph::MailSend], &account).await?;
/// let token = pca.acquire_token_silent(Graph::UserRead, &account).await?;
/// # Ok(()) }
/// # Ok::<(), msal_core::Error>(())
/// ```
///
/// # Attributes
///
/// - `#[resource("...")]` on the type (required): `https://graph.microsoft.com`, an app id URI
///   such as `api://0b2c3d4e-1111-2222-3333-444455556666` or `api://contoso.com/orders`, or a
///   bare application id GUID. A trailing `/` is kept (`https://management.core.windows.net/`
///   gives `https://management.core.windows.net//.default`, as Entra expects).
/// - `#[scope("User.Read")]` on each variant: the scope's name; the full scope is
///   `<resource>/<name>`.
/// - `#[msal(crate = "path")]` on the type: where msal-core is, when not at `::msal_core`.
///
/// # Generated
///
/// - `T::ALL: &'static [T]`, every value in declaration order (its docs list the scopes);
/// - `T::default_scope() -> &'static ScopeSet`, the resource's `.default`;
/// - `t.scope_set() -> &'static ScopeSet` and `t.as_str() -> &'static str`;
/// - `Scope` (`scope_str()` borrows the full string) and `IntoScopes` for `T` and `&T` (a
///   `'static` one-scope set, cloned without allocating);
/// - `FromStr` (the full string or the name alone, compared case-insensitively) and `Display`
///   (the full string);
/// - serde `Serialize` and `Deserialize`, as the full string.
#[proc_macro_derive(Resource, attributes(resource, scope, msal))]
pub fn derive_resource(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::finish("#[derive(Resource)]", expand::derive_resource(&input)).into()
}

/// A `&'static ScopeSet` from scope strings, checked, sorted and de-duplicated at compile
/// time: using it allocates nothing.
///
/// A string is a full scope (`https://graph.microsoft.com/Mail.Send`,
/// `api://contoso.com/orders/Orders.Read`) or a bare name, which Entra reads as a Microsoft
/// Graph scope (`User.Read`). `scopes![]` is the empty set (a sign-in with the reserved scopes
/// only). An optional leading `#[msal(crate = "path")]` says where msal-core is.
///
/// ```
/// use msal_core::{ScopeSet, scopes};
///
/// let set: &'static ScopeSet = scopes!["User.Read", "https://graph.microsoft.com/Mail.Send"];
/// assert_eq!(set.to_wire(), "User.Read https://graph.microsoft.com/Mail.Send");
/// # async fn run(app: msal_core::ConfidentialClient) -> msal_core::Result<()> {
/// let token = app
///     .acquire_token_for_client(scopes!["https://graph.microsoft.com/.default"])
///     .await?;
/// # Ok(()) }
/// ```
///
/// Mistakes fail the build:
///
/// ```compile_fail
/// // error: `.default` scopes of two resources (...): a client-credentials request takes
/// //        the `.default` of one resource; make one request per resource
/// let s = msal_core::scopes![
///     "https://graph.microsoft.com/.default",
///     "https://management.azure.com/.default",
/// ];
/// ```
#[proc_macro]
pub fn scopes(input: TokenStream) -> TokenStream {
    expand::finish("scopes!", Ok(expand::scopes(input.into()))).into()
}
