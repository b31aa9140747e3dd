#!/usr/bin/env python3
"""MSAL Python's managed identity side of the msal-rs conformance suite.

Reads one JSON job on stdin, runs MSAL Python 1.39's `ManagedIdentityClient` against the local
Entra ID emulator's managed identity sources, and prints one JSON result on stdout.

Job:
    {
      "env": {"IDENTITY_ENDPOINT": "http://127.0.0.1:M/msi/token", "IDENTITY_HEADER": "..."},
      "arc_key_dir": "/path/to/the/emulator/arc-keys",
      "identity": {"ManagedIdentityIdType": "SystemAssigned", "Id": null}
                | {"ManagedIdentityIdType": "ClientId" | "ResourceId" | "ObjectId", "Id": "..."},
      "client_capabilities": null | ["cp1"],
      "cache": null | "<SerializableTokenCache JSON>",
      "calls": [{"resource": "https://management.azure.com/", "claims_challenge": null}]
    }

Result:
    {
      "calls": [{"token_source": "identity_provider" | "cache" | null, "has_access_token": true,
                 "error": null, "error_description": null, "keys": ["access_token", ...]}],
      "cache": "<serialized cache>",
      "exception": null | "traceback"
    }

The managed identity variables of this process are replaced by the job's `env` before MSAL
runs (only this child process sees them). Azure Arc's key directory is fixed in MSAL Python
(`/var/opt/azcmagent/tokens` on Linux, `_supported_arc_platforms_and_their_prefixes` in
msal/managed_identity.py): it is pointed at the emulator's `arc_key_dir`. Every request goes
through `LoopbackOnlySession`, which refuses any host but loopback (so IMDS's default
169.254.169.254 is never reached) and ignores proxies; Service Fabric's pinned session is
derived from it by MSAL, and its endpoint comes from `env`, which is checked to be loopback.
"""

import json
import os
import sys
import traceback
from urllib.parse import urlsplit

# The variables that select a managed identity source (msal/managed_identity.py), and region
# detection's (which would probe IMDS).
_MI_VARS = (
    "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT",
    "MSI_SECRET", "IMDS_ENDPOINT", "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "AZUREPS_HOST_ENVIRONMENT", "MSAL_MANAGED_IDENTITY_ENDPOINT", "REGION_NAME",
    "MSAL_FORCE_REGION",
)
for _name in _MI_VARS:
    os.environ.pop(_name, None)

import requests  # noqa: E402
import msal  # noqa: E402
import msal.managed_identity  # noqa: E402

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class RefusedDestination(requests.exceptions.ConnectionError):
    """A request to a host that is not loopback."""


def _check(method, url):
    host = (urlsplit(url).hostname or "").lower()
    if host not in _LOOPBACK:
        raise RefusedDestination(
            "refused %s %s: not loopback (traffic must stay on loopback)" % (method, url))


class LoopbackOnlySession(requests.Session):
    """A requests.Session (Service Fabric needs one) that only talks to loopback, no proxy."""

    def __init__(self):
        super().__init__()
        self.trust_env = False  # no proxies, no netrc, no REQUESTS_CA_BUNDLE

    def request(self, method, url, *args, **kwargs):
        _check(method, url)
        kwargs["proxies"] = {}
        return super().request(method, url, *args, **kwargs)

    def send(self, request, **kwargs):
        _check(request.method, request.url)  # redirects bypass request()
        return super().send(request, **kwargs)


def main():
    job = json.load(sys.stdin)
    out = {"calls": [], "cache": None, "exception": None}
    try:
        for name, value in job["env"].items():
            if name in ("IDENTITY_ENDPOINT", "MSI_ENDPOINT", "IMDS_ENDPOINT",
                        "AZURE_POD_IDENTITY_AUTHORITY_HOST"):
                _check("GET", value)
            os.environ[name] = value
        if job.get("arc_key_dir"):
            msal.managed_identity._supported_arc_platforms_and_their_prefixes["linux"] = \
                job["arc_key_dir"]
        cache = msal.SerializableTokenCache()
        if job.get("cache"):
            cache.deserialize(job["cache"])
        kwargs = {"http_client": LoopbackOnlySession(), "token_cache": cache}
        if job.get("client_capabilities"):
            kwargs["client_capabilities"] = job["client_capabilities"]
        client = msal.ManagedIdentityClient(job["identity"], **kwargs)
        for call in job["calls"]:
            result = client.acquire_token_for_client(
                resource=call["resource"],
                claims_challenge=call.get("claims_challenge")) or {}
            out["calls"].append({
                "token_source": result.get("token_source"),
                "has_access_token": bool(result.get("access_token")),
                "error": result.get("error"),
                "error_description": result.get("error_description"),
                "keys": sorted(result.keys()),
            })
        out["cache"] = cache.serialize()
    except Exception:  # reported to the Rust side, which fails the case
        out["exception"] = traceback.format_exc()
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
