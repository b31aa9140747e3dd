//! The `oidc_provider` cases (`tests/fixtures/conformance/oidc_cases.json`): one flow against
//! node oidc-provider at the issuer with 0, 1 or 2 path segments, run by msal-rs and by MSAL
//! Python 1.39 at the same time (each with its own app instances, cache and browser), then
//! compared. A case passes when msal-rs gets the flow's expected outcome at every step and
//! MSAL Python gets the same (both a token from the same place, or both an error of the same
//! class); after a user flow both must also list the same account. When MSAL Python cannot
//! build an app for the issuer at all, the case says so in its report line and msal-rs is held
//! to the expected outcomes alone.

use std::fmt;

use anyhow::bail;
use serde::Deserialize;

use crate::oidc_peer::{DEVICE_INTERVAL_SECS, OidcProvider};
use crate::python::Python;
use crate::{oidc_python, oidc_rust};

/// The flows of the `oidc_provider` cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OidcFlow {
    /// Auth code + PKCE for the confidential web app, initiated by one app instance and
    /// completed by a second one from the serialized flow; then silent (from the cache) and a
    /// forced refresh.
    AuthCodeSecondInstance,
    /// Device code for the public client, polled by a second app instance from the serialized
    /// flow, through `authorization_pending` and `slow_down`; then silent and two forced
    /// refreshes (the public client's refresh token rotates: the second needs the first's).
    DeviceCodeSecondInstance,
    /// Client credentials with a client secret; the second call from the cache.
    ClientSecret,
    /// Client credentials with a certificate (`private_key_jwt`); the second from the cache.
    ClientCertificate,
    /// Client credentials with a wrong secret: `invalid_client`.
    WrongSecret,
    /// Auth code sign-in, the refresh token revoked at the provider's revocation endpoint
    /// (RFC 7009), then a forced refresh: the user must sign in again.
    RevokedRefreshToken,
}

/// The class of an error, as the cases compare them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ErrorClass {
    /// The client's credential was refused (msal-rs `is_invalid_client()`).
    InvalidClient,
    /// Only a new sign-in helps (msal-rs `is_interaction_required()`).
    InteractionRequired,
    /// Anything else, by its OAuth error code (or error kind).
    Other(String),
}

impl ErrorClass {
    /// The class of an OAuth error code as MSAL Python reports it (`result["error"]`),
    /// using msal-rs's rules for the two predicates.
    pub(crate) fn of_code(code: &str) -> ErrorClass {
        match code {
            "invalid_client" | "unauthorized_client" => ErrorClass::InvalidClient,
            "interaction_required" | "login_required" | "consent_required" | "invalid_grant" => {
                ErrorClass::InteractionRequired
            }
            other => ErrorClass::Other(other.to_string()),
        }
    }
}

/// What one step gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StepOutcome {
    /// A token, from `identity_provider` or `cache`.
    Token(String),
    /// An error of this class (the detail is for the report only).
    Error(ErrorClass, String),
}

impl StepOutcome {
    fn same_as(&self, other: &StepOutcome) -> bool {
        match (self, other) {
            (StepOutcome::Token(a), StepOutcome::Token(b)) => a == b,
            (StepOutcome::Error(a, _), StepOutcome::Error(b, _)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for StepOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepOutcome::Token(s) => write!(f, "token from {s}"),
            StepOutcome::Error(c, d) => write!(f, "error {c:?} ({d})"),
        }
    }
}

/// The account fields both sides list (MSAL Python's `get_accounts()` names).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub(crate) struct AccountView {
    pub(crate) home_account_id: Option<String>,
    pub(crate) environment: Option<String>,
    pub(crate) realm: Option<String>,
    pub(crate) local_account_id: Option<String>,
    pub(crate) username: Option<String>,
}

/// One side's run of a case.
#[derive(Debug, Clone, Default)]
pub(crate) struct SideRun {
    /// Each step's outcome, in order.
    pub(crate) steps: Vec<StepOutcome>,
    /// The accounts after the last step (user flows), sorted.
    pub(crate) accounts: Vec<AccountView>,
    /// The answers the provider gave to each device code poll (device flows).
    pub(crate) polls: Vec<String>,
}

/// MSAL Python's side: a run, or why it could not build an app for the issuer.
#[derive(Debug)]
pub(crate) enum PythonRun {
    Ran(SideRun),
    CannotBuildApp(String),
}

/// What a step is expected to give.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Token(&'static str),
    Error(fn(&ErrorClass) -> bool, &'static str),
}

const IDP: Expect = Expect::Token("identity_provider");
const CACHE: Expect = Expect::Token("cache");
const INVALID_CLIENT: Expect = Expect::Error(
    |c| *c == ErrorClass::InvalidClient,
    "an invalid_client error",
);
const INTERACTION_REQUIRED: Expect = Expect::Error(
    |c| *c == ErrorClass::InteractionRequired,
    "an interaction-required error",
);

impl Expect {
    fn met_by(self, got: &StepOutcome) -> bool {
        match (self, got) {
            (Expect::Token(want), StepOutcome::Token(s)) => s == want,
            (Expect::Error(is, _), StepOutcome::Error(c, _)) => is(c),
            _ => false,
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Token(s) => write!(f, "a token from {s}"),
            Expect::Error(_, what) => f.write_str(what),
        }
    }
}

impl OidcFlow {
    /// The steps (as the report names them) and what each must give.
    fn steps(self) -> &'static [(&'static str, Expect)] {
        match self {
            OidcFlow::AuthCodeSecondInstance => &[
                ("redeem the code in a second app instance", IDP),
                ("silent", CACHE),
                ("silent, forced refresh", IDP),
            ],
            OidcFlow::DeviceCodeSecondInstance => &[
                ("poll from a second app instance", IDP),
                ("silent", CACHE),
                ("silent, forced refresh", IDP),
                ("silent, forced refresh with the rotated refresh token", IDP),
            ],
            OidcFlow::ClientSecret | OidcFlow::ClientCertificate => &[
                ("client credentials", IDP),
                ("client credentials again", CACHE),
            ],
            OidcFlow::WrongSecret => &[("client credentials, wrong secret", INVALID_CLIENT)],
            OidcFlow::RevokedRefreshToken => &[
                ("redeem the code", IDP),
                (
                    "silent, forced refresh after the refresh token was revoked",
                    INTERACTION_REQUIRED,
                ),
            ],
        }
    }

    /// Whether a user signs in (the sides' accounts are then compared).
    fn signs_in(self) -> bool {
        matches!(
            self,
            OidcFlow::AuthCodeSecondInstance
                | OidcFlow::DeviceCodeSecondInstance
                | OidcFlow::RevokedRefreshToken
        )
    }
}

/// The provider's answers to a device code's polls that the case expects from a client that
/// follows RFC 8628 section 3.5: pending (the user has not approved yet), `slow_down` (always
/// the second poll), then tokens once it waited the interval plus 5 seconds.
const DEVICE_POLLS: [&str; 3] = ["authorization_pending", "slow_down", "tokens"];

/// Checks one side's run against the flow's expectations; the problems found.
fn check_side(who: &str, flow: OidcFlow, run: &SideRun) -> Vec<String> {
    let mut problems = Vec::new();
    let steps = flow.steps();
    if run.steps.len() != steps.len() {
        problems.push(format!(
            "{who} ran {} step(s), the flow has {}",
            run.steps.len(),
            steps.len()
        ));
    }
    for ((name, want), got) in steps.iter().zip(&run.steps) {
        if !want.met_by(got) {
            problems.push(format!("{who}, {name}: expected {want}, got {got}"));
        }
    }
    if flow == OidcFlow::DeviceCodeSecondInstance && run.polls != DEVICE_POLLS {
        problems.push(format!(
            "{who}'s device code polls were answered {:?}, expected {DEVICE_POLLS:?} (interval {DEVICE_INTERVAL_SECS} s, 5 s more after slow_down)",
            run.polls
        ));
    }
    if flow.signs_in() && run.accounts.len() != 1 {
        problems.push(format!(
            "{who} lists {} account(s) after the sign-in, expected 1: {:?}",
            run.accounts.len(),
            run.accounts
        ));
    }
    problems
}

/// Compares the two sides step by step.
fn compare(flow: OidcFlow, rs: &SideRun, py: &SideRun) -> Vec<String> {
    let mut problems = Vec::new();
    for ((name, _), (r, p)) in flow.steps().iter().zip(rs.steps.iter().zip(&py.steps)) {
        if !r.same_as(p) {
            problems.push(format!("{name}: msal-rs got {r}, MSAL Python {p}"));
        }
    }
    if rs.polls != py.polls {
        problems.push(format!(
            "device code polls answered: msal-rs {:?}, MSAL Python {:?}",
            rs.polls, py.polls
        ));
    }
    if flow.signs_in() && rs.accounts != py.accounts {
        problems.push(format!(
            "accounts after the sign-in: msal-rs {:?}, MSAL Python {:?}",
            rs.accounts, py.accounts
        ));
    }
    problems
}

/// One side's run in a line, for the log.
fn summary(run: &SideRun) -> String {
    let steps: Vec<String> = run.steps.iter().map(ToString::to_string).collect();
    let mut s = steps.join(", ");
    if !run.polls.is_empty() {
        s.push_str(&format!("; device code polls answered {:?}", run.polls));
    }
    for a in &run.accounts {
        s.push_str(&format!(
            "; account {} in {}/{}",
            a.home_account_id.as_deref().unwrap_or("?"),
            a.environment.as_deref().unwrap_or("?"),
            a.realm.as_deref().unwrap_or("?")
        ));
    }
    s
}

/// `oidc_provider`: runs `flow` at the issuer with `segments` path segments with both
/// libraries and compares them. `Ok` carries a note for the report line (MSAL Python could not
/// take part), if any.
pub(crate) async fn run(
    provider: &OidcProvider,
    python: &Python,
    segments: usize,
    flow: OidcFlow,
) -> anyhow::Result<Option<String>> {
    let running = provider.get().await?;
    let issuer = running.issuer(segments)?.to_string();
    let (rs, py) = tokio::join!(
        oidc_rust::run(&running, &issuer, flow),
        oidc_python::run(&running, python, &issuer, flow)
    );
    let rs = rs.map_err(|e| e.context("msal-rs's side"))?;
    let py = py.map_err(|e| e.context("MSAL Python's side"))?;
    let mut problems = check_side("msal-rs", flow, &rs);
    let note = match &py {
        PythonRun::Ran(py) => {
            let own = check_side("MSAL Python", flow, py);
            problems.extend(compare(flow, &rs, py));
            if !problems.is_empty() && !own.is_empty() {
                problems.push(format!(
                    "(MSAL Python fails this case too: {})",
                    own.join("; ")
                ));
            }
            None
        }
        PythonRun::CannotBuildApp(why) => {
            // MSAL Python's message goes on with examples of Entra authorities: not needed here.
            let why = why.split(": e.g.").next().unwrap_or(why);
            Some(format!(
                "MSAL Python 1.39 cannot take part, it refuses this issuer: {why}; msal-rs is checked against the expected outcomes alone"
            ))
        }
    };
    eprintln!("  ({issuer}: msal-rs {}", summary(&rs));
    if let PythonRun::Ran(py) = &py {
        eprintln!("   MSAL Python {})", summary(py));
    }
    if !problems.is_empty() {
        let mut report = problems.join("\n");
        if let Some(n) = &note {
            report.push_str(&format!("\n({n})"));
        }
        bail!("{report}");
    }
    Ok(note)
}
