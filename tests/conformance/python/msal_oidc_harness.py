#!/usr/bin/env python3
"""MSAL Python's side of the msal-rs conformance cases against a generic OpenID Connect
provider (node oidc-provider, started by the suite on loopback over HTTPS).

Reads one JSON job on stdin, runs MSAL Python 1.39 with `oidc_authority` set to the provider's
issuer, and prints one JSON result on stdout. Only `msal`, `requests` and the standard library
are used.

Job:
    {
      "ca_path": "/path/ca.pem",              # the test CA that signed the provider's certificate
      "origins": ["127.0.0.1:PORT"],          # the only places requests may go (https)
      "authority": "https://127.0.0.1:PORT/tenant1",
      "app": {"client_id": "...",
              "client_credential": null | "secret" | {"private_key": PEM, "public_certificate": PEM}},
      "cache": null | "<SerializableTokenCache JSON>",
      "steps": [
        {"op": "client_credentials", "scopes": [...]},
        {"op": "initiate_auth_code", "scopes": [...], "redirect_uri": "..."},
        {"op": "complete_auth_code", "flow": {...}, "auth_response": {...}},
        {"op": "initiate_device", "scopes": [...]},
        {"op": "poll_device", "flow": {...}, "deadline_seconds": 30},
        {"op": "silent", "scopes": [...], "force_refresh": false}
      ]
    }
    Without `client_credential` the app is a PublicClientApplication.

Result:
    {
      "construction_error": null | "ValueError: ...",   # the app could not be built
      "steps": [{"token_source": "identity_provider" | "cache" | null, "has_access_token": bool,
                 "error": null | "...", "error_description": null | "...",
                 "flow": null | {...}, "auth_uri": null | "...", "user_code": null | "...",
                 "accounts": [{"home_account_id": ..., "environment": ..., "realm": ...,
                               "local_account_id": ..., "username": ...}]}],
      "cache": "<serialized cache>",
      "exception": null | "traceback"
    }

Requests go through `OriginSession`, which refuses anything but https to the listed loopback
origins and verifies TLS against the test CA on every request (the environment's proxies and
`REQUESTS_CA_BUNDLE` are ignored): traffic never leaves loopback.
"""

import json
import os
import sys
import time
import traceback
from urllib.parse import urlsplit

# Region detection would probe IMDS (169.254.169.254); no region is ever configured here.
for _name in ("REGION_NAME", "MSAL_FORCE_REGION"):
    os.environ.pop(_name, None)

import requests  # noqa: E402
import msal  # noqa: E402


class RefusedDestination(requests.exceptions.ConnectionError):
    """A request to somewhere other than the provider's loopback origins."""


class OriginSession(requests.Session):
    """A requests.Session that only talks https to the given loopback origins."""

    def __init__(self, origins, ca_path):
        super().__init__()
        self.trust_env = False  # no proxies, no netrc, no REQUESTS_CA_BUNDLE
        self._origins = set(origins)
        self._ca_path = ca_path

    def _check(self, method, url):
        parts = urlsplit(url)
        if parts.scheme != "https" or parts.netloc not in self._origins:
            raise RefusedDestination(
                "refused %s %s: not the provider (traffic must stay on loopback)" % (method, url))

    def request(self, method, url, *args, **kwargs):
        self._check(method, url)
        kwargs["verify"] = self._ca_path
        kwargs["proxies"] = {}
        return super().request(method, url, *args, **kwargs)

    def send(self, request, **kwargs):
        self._check(request.method, request.url)  # redirects bypass request()
        kwargs["verify"] = self._ca_path
        return super().send(request, **kwargs)


def build_app(job, session, cache):
    app = job["app"]
    kwargs = {"oidc_authority": job["authority"], "token_cache": cache, "http_client": session}
    if app.get("client_credential") is not None:
        return msal.ConfidentialClientApplication(
            app["client_id"], client_credential=app["client_credential"], **kwargs)
    return msal.PublicClientApplication(app["client_id"], **kwargs)


def account_view(a):
    keys = ("home_account_id", "environment", "realm", "local_account_id", "username")
    return {k: a.get(k) for k in keys}


def run_step(app, step):
    """One step; returns (result dict, extra fields for the report)."""
    op = step["op"]
    if op == "client_credentials":
        return app.acquire_token_for_client(step["scopes"]), {}
    if op == "initiate_auth_code":
        flow = app.initiate_auth_code_flow(step["scopes"], redirect_uri=step["redirect_uri"])
        if "auth_uri" not in flow:
            return flow, {}
        return {}, {"flow": flow, "auth_uri": flow["auth_uri"]}
    if op == "complete_auth_code":
        return app.acquire_token_by_auth_code_flow(step["flow"], step["auth_response"]), {}
    if op == "initiate_device":
        flow = app.initiate_device_flow(step["scopes"])
        if "user_code" not in flow:
            return flow, {}
        return {}, {"flow": flow, "user_code": flow["user_code"]}
    if op == "poll_device":
        flow = step["flow"]
        if step.get("deadline_seconds"):  # stop polling then, even if the user never approves
            flow["expires_at"] = min(
                flow.get("expires_at", 0), time.time() + float(step["deadline_seconds"]))
        return app.acquire_token_by_device_flow(flow), {}
    if op == "silent":
        accounts = app.get_accounts()
        if not accounts:
            return {"error": "no_account", "error_description": "get_accounts() found none"}, {}
        return app.acquire_token_silent_with_error(
            step["scopes"], accounts[0], force_refresh=bool(step.get("force_refresh"))), {}
    raise ValueError("unknown op %r" % op)


def main():
    job = json.load(sys.stdin)
    session = OriginSession(job["origins"], job["ca_path"])
    out = {"construction_error": None, "steps": [], "cache": None, "exception": None}
    try:
        cache = msal.SerializableTokenCache()
        if job.get("cache"):
            cache.deserialize(job["cache"])
        try:
            app = build_app(job, session, cache)
        except ValueError as e:  # MSAL Python refuses this authority: an outcome, not a bug here
            out["construction_error"] = "%s: %s" % (type(e).__name__, e)
            app = None
        if app is not None:
            for step in job["steps"]:
                result, extra = run_step(app, step)
                result = result or {}
                entry = {
                    "token_source": result.get("token_source"),
                    "has_access_token": bool(result.get("access_token")),
                    "error": result.get("error"),
                    "error_description": result.get("error_description"),
                    "flow": None,
                    "auth_uri": None,
                    "user_code": None,
                    "accounts": [account_view(a) for a in app.get_accounts()],
                }
                entry.update(extra)
                out["steps"].append(entry)
        out["cache"] = cache.serialize()
    except Exception:  # reported to the Rust side, which fails the case
        out["exception"] = traceback.format_exc()
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
