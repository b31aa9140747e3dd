#!/usr/bin/env python3
"""MSAL Python's side of the msal-rs conformance suite.

Reads one JSON job on stdin, runs MSAL Python (the reference implementation) against the local
Entra ID emulator, and prints one JSON result on stdout. Only `msal`, `requests` and the
standard library are used (and `msal_extensions` for jobs over a cache file).

Job:
    {
      "emulator": {"addr": "127.0.0.1:PORT", "ca_path": "/path/ca.pem", "hosts": ["login.microsoftonline.com", ...]},
      "app": {"client_id": "...", "client_credential": "secret" | {"private_key": PEM, "public_certificate": PEM},
              "authority": "https://login.microsoftonline.com/contoso.onmicrosoft.com",
              "client_capabilities": ["CP1"] | null, "client_claims": {...} | null},
      "cache": "<SerializableTokenCache JSON>" | null,
      "calls": [{"api": "acquire_token_for_client", "scopes": [...], "claims_challenge": null, "fmi_path": null,
                 "forwarded_client_claims": null},
                {"api": "acquire_token_on_behalf_of", "user_assertion": "...", "scopes": [...], "claims_challenge": null,
                 "forwarded_client_claims": null},
                {"api": "acquire_token_by_user_federated_identity_credential", "user_assertion": "<instance token>",
                 "scopes": [...], "username": "..." | null, "user_object_id": "..." | null}]
    }

Or a user-flow script (instead of "app" and "calls"): apps are built at their first step, and
each step's result carries the requests sent during it (construction included):
    {
      "emulator": {...}, "admin_url": "http://127.0.0.1:Q",
      "apps": [{"client_id": "...", "client_credential": null | "secret", "authority": "...",
                "client_capabilities": null}],
      "cache": null | "...",
      "steps": [{"op": "auth_code", "app": 0, "scopes": [...], "redirect_uri": "...",
                 "login_hint": null, "response_mode": null, "prompt": null, "domain_hint": null,
                 "max_age": null},
                {"op": "device_code", "app": 0, "scopes": [...], "username": "..."},
                {"op": "username_password", "app": 0, "scopes": [...], "username": "...",
                 "password": "..."},
                {"op": "silent", "app": 0, "scopes": [...], "username": "...", "force_refresh": false}]
    }
    A step's result adds "auth_uri" (auth_code) and "accounts" (get_accounts() after the step).

Over a token cache file shared with other processes (msal-extensions'
`PersistedTokenCache(FilePersistence(path))`, its `<path>.lockfile` lock), instead of "cache":
    {..., "cache_file": "/abs/path/msal_token_cache.json",
     "barrier": null | {"ready": "/abs/path/ready.N", "go": "/abs/path/go", "timeout": 60}}
    With "barrier", the app(s) are built first, then "ready" is created and the calls wait for
    "go" to exist, so that several processes start writing at the same moment.

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
import time
import traceback
import urllib.request
from html.parser import HTMLParser
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

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
    if app.get("client_claims"):
        kwargs["client_claims"] = app["client_claims"]
    return msal.ConfidentialClientApplication(app["client_id"], **kwargs)


def run_call(app, call):
    api = call["api"]
    if api == "acquire_token_for_client":
        kwargs = {}
        if call.get("claims_challenge") is not None:
            kwargs["claims_challenge"] = call["claims_challenge"]
        if call.get("fmi_path") is not None:
            kwargs["fmi_path"] = call["fmi_path"]
        if call.get("forwarded_client_claims") is not None:
            kwargs["forwarded_client_claims"] = call["forwarded_client_claims"]
        return app.acquire_token_for_client(call["scopes"], **kwargs)
    if api == "acquire_token_on_behalf_of":
        kwargs = {}
        if call.get("claims_challenge") is not None:
            kwargs["claims_challenge"] = call["claims_challenge"]
        if call.get("forwarded_client_claims") is not None:
            kwargs["forwarded_client_claims"] = call["forwarded_client_claims"]
        return app.acquire_token_on_behalf_of(call["user_assertion"], call["scopes"], **kwargs)
    if api == "acquire_token_by_user_federated_identity_credential":
        kwargs = {}
        if call.get("claims_challenge") is not None:
            kwargs["claims_challenge"] = call["claims_challenge"]
        return app.acquire_token_by_user_federated_identity_credential(
            call["scopes"], call["user_assertion"], username=call.get("username"),
            user_object_id=call.get("user_object_id"), **kwargs)
    raise ValueError("unknown api %r" % api)


class _HiddenInputs(HTMLParser):
    """The name/value pairs of a form_post page's inputs."""

    def __init__(self):
        super().__init__()
        self.fields = {}

    def handle_starttag(self, tag, attrs):
        if tag == "input":
            a = dict(attrs)
            if a.get("name") is not None:
                self.fields[a["name"]] = a.get("value") or ""


def browse(session, auth_uri):
    """Plays the browser on the emulator's authorization endpoint (no redirect followed): the
    response is the query of a redirect, or the hidden inputs of a form_post page."""
    resp = session.get(auth_uri, allow_redirects=False)
    if 300 <= resp.status_code < 400:
        location = resp.headers["Location"]
        return dict(parse_qsl(urlsplit(location).query, keep_blank_values=True))
    if resp.status_code != 200:
        raise RuntimeError("authorize answered %s: %s" % (resp.status_code, resp.text[:500]))
    parser = _HiddenInputs()
    parser.feed(resp.text)
    return parser.fields


def approve_device_code(admin_url, user_code, username):
    """The user approves the code on another device (the emulator's admin API, loopback only)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(
        "%s/admin/device/%s/approve" % (admin_url, quote(user_code, safe="")),
        data=json.dumps({"username": username}).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST")
    if urlsplit(req.full_url).hostname != "127.0.0.1":
        raise RefusedDestination("the admin API must be on loopback: %s" % admin_url)
    with opener.open(req, timeout=30) as r:
        r.read()


def build_script_app(spec, session, cache):
    kwargs = {"authority": spec["authority"], "token_cache": cache, "http_client": session}
    if spec.get("client_capabilities"):
        kwargs["client_capabilities"] = spec["client_capabilities"]
    if spec.get("exclude_scopes"):
        kwargs["exclude_scopes"] = spec["exclude_scopes"]
    if spec.get("client_credential"):
        return msal.ConfidentialClientApplication(
            spec["client_id"], client_credential=spec["client_credential"], **kwargs)
    return msal.PublicClientApplication(spec["client_id"], **kwargs)


def account_view(a):
    keys = ("home_account_id", "environment", "realm", "local_account_id", "username",
            "authority_type")
    return {k: a.get(k) for k in keys}


def run_step(app, step, session, admin_url):
    """One step of a script; returns (result, auth_uri)."""
    op = step["op"]
    if op == "auth_code":
        kwargs = {}
        for k in ("redirect_uri", "login_hint", "response_mode", "prompt", "domain_hint",
                  "max_age"):
            if step.get(k) is not None:
                kwargs[k] = step[k]
        flow = app.initiate_auth_code_flow(step["scopes"], **kwargs)
        auth_response = browse(session, flow["auth_uri"])
        return app.acquire_token_by_auth_code_flow(flow, auth_response), flow["auth_uri"]
    if op == "device_code":
        flow = app.initiate_device_flow(step["scopes"])
        if "user_code" not in flow:
            raise RuntimeError("initiate_device_flow failed: %r" % flow)
        approve_device_code(admin_url, flow["user_code"], step["username"])
        return app.acquire_token_by_device_flow(flow), None
    ssh = step.get("ssh")
    # msal/application.py documents SSH certificates as data=dict(token_type="ssh-cert", ...).
    data = {"data": {"token_type": "ssh-cert", "req_cnf": ssh["req_cnf"],
                     "key_id": ssh["key_id"]}} if ssh else {}
    if op == "username_password":
        return app.acquire_token_by_username_password(
            step["username"], step["password"], step["scopes"], **data), None
    if op == "silent":
        accounts = app.get_accounts(username=step["username"])
        if not accounts:
            return {"error": "no_account",
                    "error_description": "get_accounts(%r) found none" % step["username"]}, None
        return app.acquire_token_silent_with_error(
            step["scopes"], accounts[0], force_refresh=bool(step.get("force_refresh")),
            **data), None
    raise ValueError("unknown op %r" % op)


def run_script(job, session, cache, out):
    apps = {}
    for step in job["steps"]:
        session.sent = []
        i = step.get("app", 0)
        if i not in apps:
            apps[i] = build_script_app(job["apps"][i], session, cache)
        app = apps[i]
        result, auth_uri = run_step(app, step, session, job["admin_url"])
        result = result or {}
        out["calls"].append({
            "token_source": result.get("token_source"),
            "has_access_token": bool(result.get("access_token")),
            "error": result.get("error"),
            "error_description": result.get("error_description"),
            "requests": session.sent,
            "auth_uri": auth_uri,
            "accounts": [account_view(a) for a in app.get_accounts()],
            "token_type": result.get("token_type"),
        })


def wait_for_go(barrier):
    """Signals that this process is ready, then waits for the signal to start."""
    if not barrier:
        return
    with open(barrier["ready"], "w") as f:
        f.write(str(os.getpid()))
    deadline = time.monotonic() + float(barrier.get("timeout") or 60)
    while not os.path.exists(barrier["go"]):
        if time.monotonic() > deadline:
            raise RuntimeError("no start signal at %s" % barrier["go"])
        time.sleep(0.002)


def run_calls(job, session, cache, out):
    app = build_app(job, session, cache)
    out["construction_requests"] = session.sent
    wait_for_go(job.get("barrier"))
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


def main():
    job = json.load(sys.stdin)
    emu = job["emulator"]
    session = LoopbackSession(emu["addr"], emu["ca_path"], emu["hosts"])
    out = {"construction_requests": [], "calls": [], "cache": None, "exception": None}
    try:
        if job.get("cache_file"):
            import msal_extensions  # only these jobs need it
            cache = msal_extensions.PersistedTokenCache(
                msal_extensions.FilePersistence(job["cache_file"]))
        else:
            cache = msal.SerializableTokenCache()
        if job.get("cache"):
            cache.deserialize(job["cache"])
        if "steps" in job:
            run_script(job, session, cache, out)
        else:
            run_calls(job, session, cache, out)
        out["cache"] = cache.serialize()
    except Exception:  # reported to the Rust side, which fails the case
        out["exception"] = traceback.format_exc()
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
