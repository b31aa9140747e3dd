//! Managed identity: tokens for the identity Azure gives the resource the code runs on (VMs,
//! App Service and Functions, Container Apps, AKS, Azure Arc servers, Service Fabric, Azure
//! Machine Learning, Cloud Shell), with no secret to manage.
//!
//! [`ManagedIdentityClient`] detects the source from the environment, in MSAL Python's order:
//!
//! | environment | source |
//! |---|---|
//! | `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` + `IDENTITY_SERVER_THUMBPRINT` | Service Fabric |
//! | `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` | App Service, Functions, Container Apps |
//! | `MSI_ENDPOINT` + `MSI_SECRET` | Azure Machine Learning |
//! | `IDENTITY_ENDPOINT` + `IMDS_ENDPOINT`, or the Arc agent installed | Azure Arc |
//! | `AZUREPS_HOST_ENVIRONMENT=cloud-shell…` | Cloud Shell |
//! | otherwise | IMDS (`AZURE_POD_IDENTITY_AUTHORITY_HOST`, else `169.254.169.254`) |
//!
//! A user-assigned identity is selected by its client id, resource id or object id
//! ([`UserAssignedId`]); every source but Cloud Shell accepts all three (Service Fabric
//! chooses the identity itself). Tokens are cached as MSAL Python caches them (environment
//! `localhost`, realm `managed_identity`, the id as `client_id`, `null` for the
//! system-assigned identity), refreshed at half their lifetime when they live two hours or
//! more, and concurrent misses make one request. Failed requests are retried as MSAL .NET
//! retries them (see the `retry` module's table); identity requests never go through a proxy;
//! an absent IMDS is reported within two seconds.

mod app_service;
mod arc;
mod azure_ml;
mod client;
pub(crate) mod cloud_shell;
mod environment;
mod identity;
mod imds;
pub(crate) mod retry;
mod service_fabric;
mod sources;
pub(crate) mod wire;

pub use client::{
    AcquireManagedIdentityToken, ManagedIdentityClient, ManagedIdentityClientBuilder,
};
pub use environment::{ManagedIdentityEnvironment, ManagedIdentitySource};
pub use identity::{ManagedIdentity, UserAssignedId};
