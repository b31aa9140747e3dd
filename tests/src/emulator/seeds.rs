//! Deterministic seed data: hosts, tenants, apps, users, resources and the fixed test keys.
//!
//! Everything here is a constant so that tests (and other languages' harnesses, through the
//! manifest) can refer to the same ids without asking the emulator.

// ---------------------------------------------------------------- hosts

/// The central public-cloud host.
pub const PUBLIC_HOST: &str = "login.microsoftonline.com";
/// Aliases of the public cloud, served identically (the central host first).
pub const PUBLIC_ALIASES: &[&str] = &[
    "login.microsoftonline.com",
    "login.windows.net",
    "login.microsoft.com",
    "sts.windows.net",
];
/// The base of public-cloud regional hosts: `<region>.login.microsoft.com`.
pub const PUBLIC_REGIONAL_BASE: &str = "login.microsoft.com";
/// The central US-government (sovereign) host.
pub const USGOV_HOST: &str = "login.microsoftonline.us";
/// Aliases of the US-government cloud (the central host first).
pub const USGOV_ALIASES: &[&str] = &["login.microsoftonline.us", "login.usgovcloudapi.net"];
/// The base of US-government regional hosts: `<region>.login.microsoftonline.us`.
pub const USGOV_REGIONAL_BASE: &str = "login.microsoftonline.us";
/// A custom host trusted by instance discovery; it serves tenants exactly like the public cloud.
pub const TRUSTED_CUSTOM_HOST: &str = "login.contoso.com";
/// The B2C host.
pub const B2C_HOST: &str = "contosob2c.b2clogin.com";
/// The CIAM host.
pub const CIAM_HOST: &str = "contosociam.ciamlogin.com";
/// The ADFS host (authority `https://fs.contoso.com/adfs`).
pub const ADFS_HOST: &str = "fs.contoso.com";
/// The generic OIDC provider host.
pub const OIDC_HOST: &str = "idp.fabrikam.example";
/// The generic OIDC provider's issuer (and `oidc_authority`).
pub const OIDC_ISSUER: &str = "https://idp.fabrikam.example/tenant1";
/// The generic OIDC provider's tenant path segment.
pub const OIDC_TENANT: &str = "tenant1";

/// Every host name the emulator serves explicitly (for resolver overrides). Regional hosts are
/// served for any single DNS label; a few common regions are listed here.
pub const HOSTS: &[&str] = &[
    "login.microsoftonline.com",
    "login.windows.net",
    "login.microsoft.com",
    "sts.windows.net",
    "westus.login.microsoft.com",
    "westus2.login.microsoft.com",
    "eastus.login.microsoft.com",
    "eastus2.login.microsoft.com",
    "centralus.login.microsoft.com",
    "northeurope.login.microsoft.com",
    "westeurope.login.microsoft.com",
    "login.microsoftonline.us",
    "login.usgovcloudapi.net",
    "usgovvirginia.login.microsoftonline.us",
    "usgovarizona.login.microsoftonline.us",
    "login.contoso.com",
    "contosob2c.b2clogin.com",
    "contosociam.ciamlogin.com",
    "c1a0c1a0-3b2d-4e5f-9a8b-7c6d5e4f3a2b.ciamlogin.com",
    "fs.contoso.com",
    "idp.fabrikam.example",
    "localhost",
];

/// The DNS names (besides [`HOSTS`]) in the TLS leaf certificate.
pub const CERT_WILDCARDS: &[&str] = &[
    "*.login.microsoft.com",
    "*.login.microsoftonline.us",
    "*.b2clogin.com",
    "*.ciamlogin.com",
];

// ---------------------------------------------------------------- tenants

/// Tenant contoso (public cloud).
pub const CONTOSO_TENANT_ID: &str = "f645ad92-e38d-4d1a-b510-d1b09a74a8ca";
/// contoso's initial domain.
pub const CONTOSO_DOMAIN: &str = "contoso.onmicrosoft.com";
/// contoso's custom domain.
pub const CONTOSO_CUSTOM_DOMAIN: &str = "contoso.com";
/// Tenant fabrikam (public cloud).
pub const FABRIKAM_TENANT_ID: &str = "0287f963-2d72-4363-9e3a-5705c5b0f031";
/// fabrikam's domain.
pub const FABRIKAM_DOMAIN: &str = "fabrikam.onmicrosoft.com";
/// The US-government tenant (only on the sovereign hosts).
pub const USGOV_TENANT_ID: &str = "3a2c5a8e-7b1d-4c7e-9a57-6f0d0b9f1a11";
/// The US-government tenant's domain.
pub const USGOV_DOMAIN: &str = "usgov.onmicrosoft.us";
/// The tenant id of the `consumers` pseudo-tenant (Microsoft accounts).
pub const CONSUMERS_TENANT_ID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// The B2C tenant id.
pub const B2C_TENANT_ID: &str = "c0b2c0b2-5e1a-4c2f-8d3b-1a2b3c4d5e6f";
/// The B2C tenant domain.
pub const B2C_TENANT_DOMAIN: &str = "contosob2c.onmicrosoft.com";
/// B2C sign-up/sign-in policy.
pub const B2C_POLICY_SIGNUP_SIGNIN: &str = "B2C_1_signupsignin";
/// B2C profile edit policy.
pub const B2C_POLICY_PROFILE_EDIT: &str = "B2C_1_profileedit";
/// The CIAM tenant id.
pub const CIAM_TENANT_ID: &str = "c1a0c1a0-3b2d-4e5f-9a8b-7c6d5e4f3a2b";
/// The CIAM tenant domain.
pub const CIAM_TENANT_DOMAIN: &str = "contosociam.onmicrosoft.com";

// ---------------------------------------------------------------- apps

/// The confidential client authenticating with a secret.
pub const SECRET_APP_CLIENT_ID: &str = "5e6a1c3d-0b1f-4f27-9a1e-7c3b2d4e5f60";
/// Its secret (URL-special characters on purpose).
pub const SECRET_APP_SECRET: &str = "s3cr+t/=&%value~X";
/// The confidential client authenticating with the `app-cert` certificate.
pub const CERT_APP_CLIENT_ID: &str = "c3a7e1f0-2b4d-4c6e-8a9b-0d1e2f3a4b5c";
/// The middle-tier API (on-behalf-of): client id.
pub const MIDDLE_TIER_CLIENT_ID: &str = "7d1f2e3c-4b5a-4968-8776-a5b4c3d2e1f0";
/// The middle-tier API's application id URI.
pub const MIDDLE_TIER_APP_ID_URI: &str = "api://7d1f2e3c-4b5a-4968-8776-a5b4c3d2e1f0";
/// The middle-tier API's secret (it also has the `app-cert` certificate).
pub const MIDDLE_TIER_SECRET: &str = "m1ddle+tier/=&%secret";
/// The scope the middle-tier API exposes.
pub const MIDDLE_TIER_SCOPE: &str = "access_as_user";
/// A public client (native app); the `azp` of minted user tokens.
pub const PUBLIC_CLIENT_ID: &str = "0c9e4a1b-6d2f-4e83-b5a7-19f0c2d3e4a5";
/// The public client's redirect URIs.
pub const PUBLIC_CLIENT_REDIRECT_URIS: &[&str] = &["http://localhost"];

// ---------------------------------------------------------------- resources

/// Microsoft Graph.
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";
/// Microsoft Graph's delegated scopes known to the emulator.
pub const GRAPH_SCOPES: &[&str] = &["User.Read", "Mail.Send", "Mail.Read"];
/// Azure Resource Manager.
pub const ARM_RESOURCE: &str = "https://management.azure.com";
/// Azure Resource Manager's scopes.
pub const ARM_SCOPES: &[&str] = &["user_impersonation"];

// ---------------------------------------------------------------- users

/// Alice (contoso).
pub const ALICE_USERNAME: &str = "alice@contoso.onmicrosoft.com";
/// Alice's object id.
pub const ALICE_OID: &str = "9f4880d8-80ba-4c40-97bc-f7a23c703084";
/// Alice's display name.
pub const ALICE_NAME: &str = "Alice Example";
/// Bob (fabrikam).
pub const BOB_USERNAME: &str = "bob@fabrikam.onmicrosoft.com";
/// Bob's object id.
pub const BOB_OID: &str = "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9";
/// Bob's display name.
pub const BOB_NAME: &str = "Bob Example";

// ---------------------------------------------------------------- fixed keys

/// The test app certificate (registered on the cert app and the middle-tier API).
pub const APP_CERT_PEM: &str = include_str!("../../fixtures/certs/app-cert.crt.pem");
/// Its private key, PKCS#8.
pub const APP_KEY_PKCS8_PEM: &str = include_str!("../../fixtures/certs/app-cert.key.pem");
/// Its private key, PKCS#1.
pub const APP_KEY_PKCS1_PEM: &str = include_str!("../../fixtures/certs/app-cert.rsa.pem");
/// Its private key, encrypted PKCS#8.
pub const APP_KEY_ENCRYPTED_PEM: &str = include_str!("../../fixtures/certs/app-cert.key.enc.pem");
/// The passphrase of [`APP_KEY_ENCRYPTED_PEM`].
pub const APP_KEY_PASSPHRASE: &str = "p@ss+/=&%word";
/// An unrelated certificate (negative tests).
pub const OTHER_CERT_PEM: &str = include_str!("../../fixtures/certs/other-cert.crt.pem");
/// The unrelated certificate's private key, PKCS#8.
pub const OTHER_KEY_PEM: &str = include_str!("../../fixtures/certs/other-cert.key.pem");
/// The certificate of the key the emulator signs tokens with.
pub const EMULATOR_SIGNING_CERT_PEM: &str =
    include_str!("../../fixtures/certs/emulator-signing.crt.pem");
pub(crate) const EMULATOR_SIGNING_KEY_PEM: &str =
    include_str!("../../fixtures/certs/emulator-signing.key.pem");

/// The fixture files written into the state directory: (file name, contents).
pub(crate) const FIXTURE_FILES: &[(&str, &str)] = &[
    ("app-cert.crt.pem", APP_CERT_PEM),
    ("app-cert.key.pem", APP_KEY_PKCS8_PEM),
    ("app-cert.rsa.pem", APP_KEY_PKCS1_PEM),
    ("app-cert.key.enc.pem", APP_KEY_ENCRYPTED_PEM),
    ("other-cert.crt.pem", OTHER_CERT_PEM),
    ("other-cert.key.pem", OTHER_KEY_PEM),
    ("emulator-signing.crt.pem", EMULATOR_SIGNING_CERT_PEM),
];
