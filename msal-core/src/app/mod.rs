//! The applications: [`ConfidentialClient`] (and, with the user flows, the public client),
//! their builders, request options and the future their request builders turn into.

pub mod confidential;
pub(crate) mod core;
pub(crate) mod options;

pub use confidential::{ConfidentialClient, ConfidentialClientBuilder, ConfidentialClientConfig};
pub use options::{AcquireFuture, DangerousOptions};
