//! Deterministic seed data: hosts, tenants, apps, users, resources and the fixed test keys.
//!
//! Everything here is a constant so that tests (and other languages' harnesses, through the
//! manifest) can refer to the same ids without asking the emulator.
//!
//! # Users (all sign in with their password constant; the manifest lists them)
//!
//! | user | directory | notes |
//! |---|---|---|
//! | [`ALICE_USERNAME`] | contoso | default user of contoso and of `common`/`organizations` |
//! | [`BOB_USERNAME`] | fabrikam | default user of fabrikam |
//! | [`CAROL_USERNAME`] | contosob2c (B2C) | default user of the B2C tenant |
//! | [`ERIN_USERNAME`] | contosociam (CIAM) | default user of the CIAM tenant |
//! | [`DAVE_USERNAME`] | the ADFS server | default user at `https://fs.contoso.com/adfs` |
//! | [`FRANK_USERNAME`] | contoso, federated domain [`FEDERATED_DOMAIN`] | password checked by WS-Trust at [`FEDERATION_HOST`]; ROPC refused |
//!
//! # Apps for user sign-in
//!
//! - [`PUBLIC_CLIENT_ID`]: public client, redirects [`PUBLIC_CLIENT_REDIRECT_URIS`] (loopback,
//!   any port), PKCE S256 required.
//! - [`WEB_APP_CLIENT_ID`]: confidential, secret [`WEB_APP_SECRET`], redirect
//!   [`WEB_APP_REDIRECT_URI`]; PKCE optional (verified when sent).
//! - [`FOCI_APP_A_CLIENT_ID`] ("Office-like A") and [`FOCI_APP_B_CLIENT_ID`] ("Office-like B"):
//!   public clients of family [`FOCI_FAMILY_ID`]: their responses carry `"foci": "1"` and either
//!   redeems the other's refresh tokens.
//!
//! # Managed identities (contoso)
//!
//! | identity | client id | object id | resource id |
//! |---|---|---|---|
//! | system-assigned | [`MI_SYSTEM_CLIENT_ID`] | [`MI_SYSTEM_OBJECT_ID`] | [`MI_SYSTEM_RESOURCE_ID`] (a VM) |
//! | user-assigned `uami-one` | [`MI_USER_ONE_CLIENT_ID`] | [`MI_USER_ONE_OBJECT_ID`] | [`MI_USER_ONE_RESOURCE_ID`] |
//! | user-assigned `uami-two` | [`MI_USER_TWO_CLIENT_ID`] | [`MI_USER_TWO_OBJECT_ID`] | [`MI_USER_TWO_RESOURCE_ID`] |

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
    "contoso.vault.azure.net",
    "sts.fed.example",
    "localhost",
];

/// The DNS names (besides [`HOSTS`]) in the TLS leaf certificate.
pub const CERT_WILDCARDS: &[&str] = &[
    "*.login.microsoft.com",
    "*.login.microsoftonline.us",
    "*.b2clogin.com",
    "*.ciamlogin.com",
    "*.vault.azure.net",
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
/// The directory of the ADFS server (realm `adfs`; its users sign in at
/// `https://fs.contoso.com/adfs`). Listed among the tenants with kind `adfs`.
pub const ADFS_TENANT_ID: &str = "adfs";
/// A federated domain of contoso: user realm answers `Federated` for it, and the token endpoint
/// refuses ROPC for its users (their passwords live at the federation server,
/// [`FEDERATION_HOST`]).
pub const FEDERATED_DOMAIN: &str = "fed.example";
/// `federation_protocol` of [`FEDERATED_DOMAIN`].
pub const FEDERATION_PROTOCOL: &str = "WSTrust";
/// The federation server (AD FS) of [`FEDERATED_DOMAIN`]: it serves the WS-MetadataExchange
/// document and the WS-Trust 1.3 and 2005 username/password endpoints, and issues SAML
/// assertions that the token endpoint redeems (`saml2-bearer` and `saml1_1-bearer` grants).
pub const FEDERATION_HOST: &str = "sts.fed.example";
/// `federation_metadata_url` (MEX) of [`FEDERATED_DOMAIN`]; it lists both WS-Trust endpoints.
pub const FEDERATION_METADATA_URL: &str = "https://sts.fed.example/adfs/services/trust/mex";
/// `federation_active_auth_url` of [`FEDERATED_DOMAIN`]: the WS-Trust 2005 endpoint (it answers
/// SAML 1.1 assertions).
pub const FEDERATION_ACTIVE_AUTH_URL: &str =
    "https://sts.fed.example/adfs/services/trust/2005/usernamemixed";
/// The WS-Trust 1.3 username/password endpoint of [`FEDERATION_HOST`] (it answers SAML 2.0
/// assertions).
pub const FEDERATION_WSTRUST13_URL: &str =
    "https://sts.fed.example/adfs/services/trust/13/usernamemixed";
/// The `Issuer` of the federation server's SAML assertions.
pub const FEDERATION_ISSUER: &str = "http://sts.fed.example/adfs/services/trust";

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
/// An app with a federated identity credential for a Kubernetes service account (workload
/// identity): [`WORKLOAD_ISSUER`] + [`WORKLOAD_SUBJECT`].
pub const WORKLOAD_APP_CLIENT_ID: &str = "a0b1c2d3-4e5f-4a6b-9c7d-8e9f0a1b2c3d";
/// The issuer of the workload's service account tokens (an AKS cluster's OIDC issuer).
pub const WORKLOAD_ISSUER: &str =
    "https://oidc.prod-aks.azure.com/f645ad92-e38d-4d1a-b510-d1b09a74a8ca/";
/// The workload's service account, as its tokens' `sub`.
pub const WORKLOAD_SUBJECT: &str = "system:serviceaccount:default:workload";
/// An agent identity: a confidential client with a secret and a federated identity credential
/// for its agent instance tokens ([`WORKLOAD_ISSUER`] + [`AGENT_INSTANCE_SUBJECT`]), which it
/// exchanges for user tokens with the `user_fic` grant.
pub const AGENT_APP_CLIENT_ID: &str = "b7c8d9e0-1f2a-4b3c-8d4e-5f6a7b8c9d0e";
/// The agent app's secret.
pub const AGENT_APP_SECRET: &str = "ag3nt+app/=&%secret~Z";
/// The agent instance, as the `sub` of its instance tokens.
pub const AGENT_INSTANCE_SUBJECT: &str = "agent-instance-1";
/// The audience of tokens exchanged with Entra ID (`api://AzureADTokenExchange`).
pub const FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";
/// The scope the middle-tier API exposes.
pub const MIDDLE_TIER_SCOPE: &str = "access_as_user";
/// A public client (native app); the `azp` of minted user tokens.
pub const PUBLIC_CLIENT_ID: &str = "0c9e4a1b-6d2f-4e83-b5a7-19f0c2d3e4a5";
/// The public client's redirect URIs. Loopback URIs match on any port (RFC 8252 §7.3) for
/// public clients: `http://localhost:53124` and `http://127.0.0.1:8400/` are accepted.
pub const PUBLIC_CLIENT_REDIRECT_URIS: &[&str] = &["http://localhost", "http://127.0.0.1"];
/// A web app (confidential client with a secret) for the authorization code flow.
pub const WEB_APP_CLIENT_ID: &str = "a3b4c5d6-e7f8-4a9b-8c0d-1e2f3a4b5c6d";
/// The web app's secret.
pub const WEB_APP_SECRET: &str = "w3b+app/=&%secret~Y";
/// The web app's redirect URI (exact match).
pub const WEB_APP_REDIRECT_URI: &str = "https://app.contoso.com/callback";
/// The family id of the seeded FOCI apps (`foci` in their token responses).
pub const FOCI_FAMILY_ID: &str = "1";
/// FOCI family member "Office-like A" (public client, redirects as the public client).
pub const FOCI_APP_A_CLIENT_ID: &str = "f0c1a0a0-1111-4a1a-9a1a-0000000000a1";
/// FOCI family member "Office-like B" (public client, redirects as the public client).
pub const FOCI_APP_B_CLIENT_ID: &str = "f0c1b0b0-2222-4b2b-9b2b-0000000000b2";

// ---------------------------------------------------------------- resources

/// Microsoft Graph.
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";
/// Microsoft Graph's delegated scopes known to the emulator.
pub const GRAPH_SCOPES: &[&str] = &["User.Read", "Mail.Send", "Mail.Read"];
/// Azure Resource Manager.
pub const ARM_RESOURCE: &str = "https://management.azure.com";
/// Azure Resource Manager's scopes.
pub const ARM_SCOPES: &[&str] = &["user_impersonation"];
/// Azure Key Vault (the audience of its tokens).
pub const KEYVAULT_RESOURCE: &str = "https://vault.azure.net";
/// Azure Key Vault's application id (also accepted as the audience).
pub const KEYVAULT_APP_ID: &str = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093";
/// Azure Key Vault's delegated scopes.
pub const KEYVAULT_SCOPES: &[&str] = &["user_impersonation"];
/// The emulated vault's host: `https://contoso.vault.azure.net` serves Key Vault's secrets API
/// and accepts only tokens the emulator issued for [`KEYVAULT_RESOURCE`].
pub const KEYVAULT_HOST: &str = "contoso.vault.azure.net";

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
/// Alice's password (ROPC; URL-special characters on purpose).
pub const ALICE_PASSWORD: &str = "Al1ce+p@ss/=&%";
/// Bob's password.
pub const BOB_PASSWORD: &str = "B0b+p@ss/=&%";
/// Carol, a B2C local account (tenant contosob2c; default user of the B2C tenant).
pub const CAROL_USERNAME: &str = "carol@contosob2c.onmicrosoft.com";
/// Carol's object id.
pub const CAROL_OID: &str = "c4a1b2c3-d4e5-4f60-8a7b-9c0d1e2f3a4b";
/// Carol's display name.
pub const CAROL_NAME: &str = "Carol Example";
/// Carol's password.
pub const CAROL_PASSWORD: &str = "C4rol+p@ss/=&%";
/// Dave, a user of the ADFS server (`https://fs.contoso.com/adfs`).
pub const DAVE_USERNAME: &str = "dave@contoso.com";
/// Dave's object id (ADFS tokens carry no `oid`; it seeds his pairwise `sub`).
pub const DAVE_OID: &str = "d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70";
/// Dave's display name.
pub const DAVE_NAME: &str = "Dave Example";
/// Dave's password.
pub const DAVE_PASSWORD: &str = "D4ve+p@ss/=&%";
/// Erin, a CIAM user (tenant contosociam).
pub const ERIN_USERNAME: &str = "erin@contosociam.onmicrosoft.com";
/// Erin's object id.
pub const ERIN_OID: &str = "e5f6a7b8-c9d0-4e1f-8a2b-3c4d5e6f7a8b";
/// Erin's display name.
pub const ERIN_NAME: &str = "Erin Example";
/// Erin's password.
pub const ERIN_PASSWORD: &str = "Er1n+p@ss/=&%";
/// Frank, a contoso user in the federated domain [`FEDERATED_DOMAIN`] (ROPC refused; he signs
/// in with his password through WS-Trust at [`FEDERATION_HOST`]).
pub const FRANK_USERNAME: &str = "frank@fed.example";
/// Frank's object id.
pub const FRANK_OID: &str = "f6a7b8c9-d0e1-4f2a-9b3c-4d5e6f7a8b9c";
/// Frank's display name.
pub const FRANK_NAME: &str = "Frank Example";
/// Frank's password (at the federation server; Entra never accepts it).
pub const FRANK_PASSWORD: &str = "Fr4nk+p@ss/=&%";
/// The password of users added through the admin API without one.
pub const DEFAULT_USER_PASSWORD: &str = "P@ssw0rd+/=&%";

// ---------------------------------------------------------------- managed identities

/// The Azure subscription the seeded managed identities live in.
pub const MI_SUBSCRIPTION_ID: &str = "5b1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
/// The system-assigned identity's client id (contoso).
pub const MI_SYSTEM_CLIENT_ID: &str = "9a1b2c3d-0001-4e5f-8a9b-0c1d2e3f4a5b";
/// The system-assigned identity's object id.
pub const MI_SYSTEM_OBJECT_ID: &str = "9a1b2c3d-0002-4e5f-8a9b-0c1d2e3f4a5b";
/// The resource id of the virtual machine the system-assigned identity belongs to.
pub const MI_SYSTEM_RESOURCE_ID: &str = "/subscriptions/5b1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/resourcegroups/rg/providers/Microsoft.Compute/virtualMachines/msal-emulator-vm";
/// The first user-assigned identity's client id (contoso).
pub const MI_USER_ONE_CLIENT_ID: &str = "9a1b2c3d-0011-4e5f-8a9b-0c1d2e3f4a5b";
/// The first user-assigned identity's object id.
pub const MI_USER_ONE_OBJECT_ID: &str = "9a1b2c3d-0012-4e5f-8a9b-0c1d2e3f4a5b";
/// The first user-assigned identity's resource id.
pub const MI_USER_ONE_RESOURCE_ID: &str = "/subscriptions/5b1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uami-one";
/// The second user-assigned identity's client id (contoso).
pub const MI_USER_TWO_CLIENT_ID: &str = "9a1b2c3d-0021-4e5f-8a9b-0c1d2e3f4a5b";
/// The second user-assigned identity's object id.
pub const MI_USER_TWO_OBJECT_ID: &str = "9a1b2c3d-0022-4e5f-8a9b-0c1d2e3f4a5b";
/// The second user-assigned identity's resource id.
pub const MI_USER_TWO_RESOURCE_ID: &str = "/subscriptions/5b1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uami-two";
/// `appid` of Cloud Shell's user tokens (the Azure CLI's public client id, which Cloud Shell
/// signs in with).
pub const CLOUD_SHELL_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

// ---------------------------------------------------------------- user flows

/// Lifetime of authorization codes (seconds, emulator clock).
pub const AUTH_CODE_LIFETIME: u64 = 600;
/// `verification_uri` of the device authorization endpoint.
pub const DEVICE_VERIFICATION_URI: &str = "https://microsoft.com/devicelogin";
/// Default `expires_in` of device codes (settable through the admin API).
pub const DEVICE_CODE_EXPIRES_IN: u64 = 900;
/// Default `interval` of device codes (settable through the admin API).
pub const DEVICE_CODE_INTERVAL: u64 = 5;
/// Lifetime of ID tokens.
pub const ID_TOKEN_LIFETIME: u64 = 3600;

// ---------------------------------------------------------------- fixed keys

/// The test app certificate (registered on the cert app and the middle-tier API).
pub const APP_CERT_PEM: &str = include_str!("../fixtures/certs/app-cert.crt.pem");
/// Its private key, PKCS#8.
pub const APP_KEY_PKCS8_PEM: &str = include_str!("../fixtures/certs/app-cert.key.pem");
/// Its private key, PKCS#1.
pub const APP_KEY_PKCS1_PEM: &str = include_str!("../fixtures/certs/app-cert.rsa.pem");
/// Its private key, encrypted PKCS#8.
pub const APP_KEY_ENCRYPTED_PEM: &str = include_str!("../fixtures/certs/app-cert.key.enc.pem");
/// The passphrase of [`APP_KEY_ENCRYPTED_PEM`].
pub const APP_KEY_PASSPHRASE: &str = "p@ss+/=&%word";
/// The app key and certificate as PKCS#12 with OpenSSL 3's `-legacy` protection (3DES key,
/// RC2-40 certificates, SHA-1 MAC), password [`APP_KEY_PASSPHRASE`] (see fixtures/certs/README.md).
pub const APP_PFX_LEGACY: &[u8] = include_bytes!("../fixtures/certs/app-cert.legacy.pfx");
/// The same as PKCS#12 with OpenSSL 3's default protection (PBES2, AES-256-CBC, SHA-256 MAC),
/// password [`APP_KEY_PASSPHRASE`].
pub const APP_PFX_AES: &[u8] = include_bytes!("../fixtures/certs/app-cert.aes.pfx");
/// The same as PKCS#12 with the empty password.
pub const APP_PFX_EMPTY_PASSWORD: &[u8] =
    include_bytes!("../fixtures/certs/app-cert.empty-password.pfx");
/// The same as PKCS#12 followed by [`OTHER_CERT_PEM`] (a two-certificate chain), password
/// [`APP_KEY_PASSPHRASE`].
pub const APP_PFX_CHAIN: &[u8] = include_bytes!("../fixtures/certs/app-cert.chain.pfx");
/// The SHA-1 thumbprint of [`APP_CERT_PEM`] as hex, as the Azure portal shows it.
pub const APP_CERT_SHA1_THUMBPRINT: &str = "B31ACD4926D455181A116DFD5CA7E33A049F7BB9";
/// An unrelated certificate (negative tests).
pub const OTHER_CERT_PEM: &str = include_str!("../fixtures/certs/other-cert.crt.pem");
/// The unrelated certificate's private key, PKCS#8.
pub const OTHER_KEY_PEM: &str = include_str!("../fixtures/certs/other-cert.key.pem");
/// The certificate of the key the emulator signs tokens with.
pub const EMULATOR_SIGNING_CERT_PEM: &str =
    include_str!("../fixtures/certs/emulator-signing.crt.pem");
pub(crate) const EMULATOR_SIGNING_KEY_PEM: &str =
    include_str!("../fixtures/certs/emulator-signing.key.pem");

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
