#!/usr/bin/env python3
"""MSAL Python's side of the msal-rs conformance suite.

Reads one JSON job on stdin, runs MSAL Python (the reference implementation) against the local
Entra ID emulator, and prints one JSON result on stdout. Only `msal`, `requests` and the
standard library are used.

Job:
    {
      "emulator": {"addr": "127.0.0.1:PORT", "ca_path": "/path/ca.pem", "hosts": ["login.microsoftonline.com", ...]},
      "app": {"client_id": "...", "client_credential": "secret" | {"private_key": PEM, "public_certificate": PEM},
              "authority": "https://login.microsoftonline.com/contoso.onmicrosoft.com",
              "client_capabilities": ["CP1"] | null},
      "cache": "<SerializableTokenCache JSON>" | null,
      "calls": [{"api": "acquire_token_for_client", "scopes": [...], "claims_challenge": null, "fmi_path": null},
                {"api": "acquire_token_on_behalf_of", "user_assertion": "...", "scopes": [...], "claims_challenge": null}]
    }

Result:
    {
      "construction_requests": [{"method": "GET", "url": "https://login.microsoftonline.com/..."}],
      "calls": [{"token_source": "identity_provider", "has_access_token": true, "error": null,
                 "error_description": null, "requests": [...]}],
      "cache": "<serialized cache>",
      "exception": null | "traceback"
    }

Every request goes through `LoopbackSession`, which rewrites `https://<emulator host>/...` to
`https://127.0.0.1:PORT/...` (keeping the original host in the `Host` header), verifies TLS
against the emulator's CA on every request (so `REQUESTS_CA_BUNDLE` cannot override it), and
refuses any other destination: traffic never leaves loopback.
"""

import json
import os
import sys
import traceback
from urllib.parse import urlsplit, urlunsplit

# Region detection would probe IMDS (169.254.169.254); no region is ever configured here.
for _name in ("REGION_NAME", "MSAL_FORCE_REGION"):
    os.environ.pop(_name, None)

import requests  # noqa: E402
import msal  # noqa: E402


class RefusedDestination(requests.exceptions.ConnectionError):
    """A request to a host that is not served by the emulator (or not over https)."""


class LoopbackSession(requests.Session):
    """A requests.Session that only talks to the emulator on loopback."""

    def __init__(self, addr, ca_path, hosts):
        super().__init__()
        self.trust_env = False  # no proxies, no netrc, no REQUESTS_CA_BUNDLE
        self._addr = addr
        self._ca_path = ca_path
        self._hosts = {h.lower() for h in hosts}
        self.sent = []

    def request(self, method, url, *args, **kwargs):
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme != "https" or host not in self._hosts or parts.port not in (None, 443):
            raise RefusedDestination(
                "refused %s %s: not an emulator host (traffic must stay on loopback)"
                % (method, url))
        self.sent.append({"method": method.upper(), "url": url})
        rewritten = urlunsplit(("https", self._addr, parts.path, parts.query, parts.fragment))
        headers = dict(kwargs.pop("headers", None) or {})
        headers["Host"] = host
        kwargs["headers"] = headers
        kwargs["verify"] = self._ca_path
        kwargs["proxies"] = {}
        return super().request(method, rewritten, *args, **kwargs)

    def send(self, request, **kwargs):
        # Redirects bypass request(): refuse anything not addressed to the emulator itself.
        parts = urlsplit(request.url)
        if parts.scheme != "https" or parts.netloc != self._addr:
            raise RefusedDestination(
                "refused %s %s: only the emulator at %s is reachable"
                % (request.method, request.url, self._addr))
        kwargs["verify"] = self._ca_path
        return super().send(request, **kwargs)


def build_app(job, session, cache):
    app = job["app"]
    kwargs = {
        "client_credential": app["client_credential"],
        "authority": app["authority"],
        "token_cache": cache,
        "http_client": session,
    }
    if app.get("client_capabilities"):
        kwargs["client_capabilities"] = app["client_capabilities"]
    if app.get("app_name"):
        kwargs["app_name"] = app["app_name"]
    if app.get("app_version"):
        kwargs["app_version"] = app["app_version"]
    return msal.ConfidentialClientApplication(app["client_id"], **kwargs)


def run_call(app, call):
    api = call["api"]
    if api == "acquire_token_for_client":
        kwargs = {}
        if call.get("claims_challenge") is not None:
            kwargs["claims_challenge"] = call["claims_challenge"]
        if call.get("fmi_path") is not None:
            kwargs["fmi_path"] = call["fmi_path"]
        return app.acquire_token_for_client(call["scopes"], **kwargs)
    if api == "acquire_token_on_behalf_of":
        kwargs = {}
        if call.get("claims_challenge") is not None:
            kwargs["claims_challenge"] = call["claims_challenge"]
        return app.acquire_token_on_behalf_of(call["user_assertion"], call["scopes"], **kwargs)
    raise ValueError("unknown api %r" % api)


def main():
    job = json.load(sys.stdin)
    emu = job["emulator"]
    session = LoopbackSession(emu["addr"], emu["ca_path"], emu["hosts"])
    cache = msal.SerializableTokenCache()
    out = {"construction_requests": [], "calls": [], "cache": None, "exception": None}
    try:
        if job.get("cache"):
            cache.deserialize(job["cache"])
        app = build_app(job, session, cache)
        out["construction_requests"] = session.sent
        for call in job["calls"]:
            session.sent = []
            result = run_call(app, call) or {}
            out["calls"].append({
                "token_source": result.get("token_source"),
                "has_access_token": bool(result.get("access_token")),
                "error": result.get("error"),
                "error_description": result.get("error_description"),
                "requests": session.sent,
            })
        out["cache"] = cache.serialize()
    except Exception:  # reported to the Rust side, which fails the case
        out["exception"] = traceback.format_exc()
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
