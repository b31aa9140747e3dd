//! The states of the multi-step flows, as types: a flow is [`Initiated`] (waiting for the
//! user) or [`Completed`] (tokens obtained). What a flow holds in each state is the flow's own
//! business; the markers only decide which methods exist.

use std::fmt;

use crate::error::Error;
use crate::result::{Account, AuthenticationResult};

mod sealed {
    /// Implemented by the flow states only.
    #[allow(unreachable_pub)]
    pub trait Sealed {}
}

/// A state of a multi-step flow ([`Initiated`] or [`Completed`]). Sealed.
pub trait FlowState: sealed::Sealed {
    /// What an authorization code flow holds in this state.
    #[doc(hidden)]
    type AuthCode;
    /// What a device code flow holds in this state.
    #[doc(hidden)]
    type DeviceCode;
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

impl FlowState for Initiated {
    type AuthCode = super::auth_code::AuthCodeInitiated;
    type DeviceCode = super::device_code::DeviceCodeInitiated;
}

impl FlowState for Completed {
    type AuthCode = CompletedData;
    type DeviceCode = CompletedData;
}

/// What a completed flow holds.
#[derive(Debug, Clone)]
#[doc(hidden)]
pub struct CompletedData {
    pub(crate) result: AuthenticationResult,
}

impl CompletedData {
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
