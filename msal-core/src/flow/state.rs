//! The states of the multi-step flows, as types: a flow is [`Initiated`] (waiting for the
//! user) or [`Completed`] (tokens obtained), and the state decides which methods exist.
//!
//! Each flow maps a state to what it holds there through its own sealed trait:
//! [`AuthCodeState`] for [`AuthCodeFlow`](crate::AuthCodeFlow) ([`AuthCodePending`] while
//! initiated), [`DeviceCodeState`] for [`DeviceCodeFlow`](crate::DeviceCodeFlow)
//! ([`DeviceCodePending`]), and both hold a [`FlowOutcome`] once completed. These types are
//! opaque: a flow's methods are the way to read them.

use std::fmt;

use crate::error::Error;
use crate::result::{Account, AuthenticationResult};

pub use super::auth_code::AuthCodePending;
pub use super::device_code::DeviceCodePending;

mod sealed {
    /// Implemented by the flow states only.
    #[allow(unreachable_pub)]
    pub trait Sealed {}
}

/// A state of a multi-step flow: [`Initiated`] or [`Completed`]. Sealed.
pub trait FlowState: sealed::Sealed {}

/// What an [`AuthCodeFlow`](crate::AuthCodeFlow) holds in a state. Sealed.
pub trait AuthCodeState: FlowState {
    /// [`AuthCodePending`] when initiated, [`FlowOutcome`] when completed.
    type Data;
}

/// What a [`DeviceCodeFlow`](crate::DeviceCodeFlow) holds in a state. Sealed.
pub trait DeviceCodeState: FlowState {
    /// [`DeviceCodePending`] when initiated, [`FlowOutcome`] when completed.
    type Data;
}

/// The flow has started and waits for the user (to come back from the authorization page,
/// or to enter a device code).
#[derive(Debug, Clone, Copy)]
pub enum Initiated {}

/// The flow obtained its tokens; its result can be read.
#[derive(Debug, Clone, Copy)]
pub enum Completed {}

impl sealed::Sealed for Initiated {}
impl sealed::Sealed for Completed {}
impl FlowState for Initiated {}
impl FlowState for Completed {}

impl AuthCodeState for Initiated {
    type Data = AuthCodePending;
}

impl AuthCodeState for Completed {
    type Data = FlowOutcome;
}

impl DeviceCodeState for Initiated {
    type Data = DeviceCodePending;
}

impl DeviceCodeState for Completed {
    type Data = FlowOutcome;
}

/// What a completed flow holds: the tokens it obtained (read them with the flow's `result`,
/// `account` or `into_result`). Not serializable: the tokens are in the token cache, and a
/// completed flow has nothing left to resume.
#[derive(Debug, Clone)]
pub struct FlowOutcome {
    pub(crate) result: AuthenticationResult,
}

impl FlowOutcome {
    pub(crate) fn account(&self) -> Option<&Account> {
        self.result.account()
    }
}

/// A failed step of a multi-step flow: the error, and the flow back when the failure was
/// transient (network, 5xx, throttling) so the same flow can be retried.
pub struct FlowError<F> {
    error: Error,
    flow: Option<F>,
}

impl<F> FlowError<F> {
    pub(crate) fn fatal(error: Error) -> Self {
        FlowError { error, flow: None }
    }

    pub(crate) fn retryable(error: Error, flow: F) -> Self {
        FlowError {
            error,
            flow: Some(flow),
        }
    }

    /// The error.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The flow, to retry with, when the failure was transient.
    pub fn into_flow(self) -> Option<F> {
        self.flow
    }

    /// The error and, when the failure was transient, the flow.
    pub fn into_parts(self) -> (Error, Option<F>) {
        (self.error, self.flow)
    }
}

impl<F> From<FlowError<F>> for Error {
    fn from(e: FlowError<F>) -> Error {
        e.error
    }
}

impl<F> fmt::Debug for FlowError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlowError")
            .field("error", &self.error)
            .field("flow_returned", &self.flow.is_some())
            .finish()
    }
}

impl<F> fmt::Display for FlowError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<F> std::error::Error for FlowError<F> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
