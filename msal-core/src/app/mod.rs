//! The applications: [`ConfidentialClient`] and [`PublicClient`],
//! their builders, request options and the future their request builders turn into.

pub mod confidential;
pub(crate) mod core;
pub(crate) mod flight;
pub(crate) mod options;
pub mod public;
pub(crate) mod user_methods;

pub use confidential::{ConfidentialClient, ConfidentialClientBuilder};
pub use core::ClientApplication;
pub use options::{AcquireFuture, DangerousOptions, SshCertificateRequest};
pub use public::{PublicClient, PublicClientBuilder};
