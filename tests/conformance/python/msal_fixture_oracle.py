#!/usr/bin/env python3
"""MSAL Python as the oracle for the other MSALs' cache fixtures (msal-rs conformance suite).

Reads one JSON job on stdin, loads its cache document into MSAL Python's
`SerializableTokenCache`, asks MSAL Python what it can use from it, and prints one JSON result
on stdout. No traffic leaves the process: every app gets `OfflineHttpClient`, which answers
Entra ID's instance discovery and the authority's OpenID Connect discovery itself and refuses
every token request (HTTP 400 `invalid_grant`), recording the refresh token each one carried.
Only `msal` and the standard library are used.

Job:
    {
      "cache": "<cache document text>",
      "now": 1613060011,                 # MSAL Python's clock (time.time) for the whole job
      "instance_metadata": [{"preferred_network": ..., "preferred_cache": ..., "aliases": [...]}],
      "apps": [{"client_id": "...", "authority": "https://login.windows.net/<realm>",
                "validate_authority": true, "scopes": [["s1", "s2"], ...]}]
    }

For each app (a fresh `PublicClientApplication` over a fresh copy of the cache for every call,
so that MSAL Python's HTTP throttling cache never hides a refresh attempt):
    - "accounts": `get_accounts()`;
    - "silent": for each account and each scope set, `acquire_token_silent_with_error`: the
      access token served from the cache (its `secret`), if any;
    - "refresh": for each account, `acquire_token_silent_with_error(force_refresh=True)` with
      the first scope set: the refresh tokens MSAL Python sent, in order;
    - "removed": for each account, `remove_account`: the (section, key) of every entry MSAL
      Python's sign-out selects (its lookup of the account's tokens, ID tokens and accounts),
      and those of them it could not remove.

Result:
    {"load_error": null | "why the document does not load",
     "apps": [{"error": null | "why the app could not be built",
               "accounts": [{"home_account_id", "environment", "realm", "username",
                             "local_account_id", "authority_type"}],
               "silent": [{"home_account_id", "scopes": [...], "access_token": "..." | null,
                           "raised": null | "the exception MSAL Python raised"}],
               "refresh": [{"home_account_id", "refresh_tokens": ["...", ...], "raised": ...}],
               "removed": [{"home_account_id", "entries": [["RefreshToken", "key"], ...] | null,
                            "not_removed": [[...], ...], "raised": ...}]}],
     "exception": null | "traceback"}
"""

import json
import sys
import time
import traceback
from urllib.parse import parse_qs, urlsplit

import msal


class FakeResponse(object):
    """The shape of a `requests.Response` that MSAL Python reads."""

    def __init__(self, status_code, body):
        self.status_code = status_code
        self.text = json.dumps(body)
        self.headers = {"Content-Type": "application/json"}

    def raise_for_status(self):
        if self.status_code >= 400:
            raise RuntimeError("HTTP %d: %s" % (self.status_code, self.text))


class OfflineHttpClient(object):
    """An http_client that never opens a connection.

    GET .../discovery/instance answers as Entra ID does: the tenant discovery endpoint of the
    authority asked about and the clouds' alias groups, or `invalid_instance` for a host that is
    in no group. GET .../.well-known/openid-configuration answers with the endpoints of that
    authority. Every POST (a token request) is refused with `invalid_grant`; the refresh token
    it carried is recorded in `refresh_tokens`.
    """

    def __init__(self, metadata):
        self._metadata = metadata
        self._known = {a.lower() for g in metadata for a in g["aliases"]}
        self.refresh_tokens = []

    def get(self, url, params=None, headers=None, **kwargs):
        parts = urlsplit(url)
        path = parts.path.rstrip("/")
        query = dict(params or {})
        for k, v in parse_qs(parts.query).items():
            query.setdefault(k, v[0])
        if path.endswith("/discovery/instance"):
            endpoint = urlsplit(query.get("authorization_endpoint", ""))
            host = (endpoint.hostname or "").lower()
            if host not in self._known:
                return FakeResponse(400, {
                    "error": "invalid_instance",
                    "error_description": "AADSTS50049: Unknown or invalid instance."})
            prefix = endpoint.path.split("/oauth2/")[0]
            return FakeResponse(200, {
                "tenant_discovery_endpoint": "https://%s%s/v2.0/.well-known/openid-configuration"
                                             % (host, prefix),
                "api-version": "1.1",
                "metadata": self._metadata,
            })
        if path.endswith("/.well-known/openid-configuration"):
            base = path[: -len("/.well-known/openid-configuration")]
            if base.endswith("/v2.0"):
                base = base[: -len("/v2.0")]
                version = "/v2.0"
            else:
                version = ""
            root = "https://%s%s" % (parts.netloc, base)
            return FakeResponse(200, {
                "issuer": root + version,
                "authorization_endpoint": root + "/oauth2%s/authorize" % version,
                "token_endpoint": root + "/oauth2%s/token" % version,
                "device_authorization_endpoint": root + "/oauth2%s/devicecode" % version,
            })
        return FakeResponse(404, {"error": "not_found"})

    def post(self, url, params=None, data=None, headers=None, **kwargs):
        if isinstance(data, dict) and data.get("grant_type") == "refresh_token":
            self.refresh_tokens.append(data.get("refresh_token"))
        return FakeResponse(400, {
            "error": "invalid_grant",
            "error_description": "refused: the conformance oracle sends no token requests"})

    def close(self):
        pass


def load(text):
    cache = msal.SerializableTokenCache()
    cache.deserialize(text)
    return cache


def build(spec, text, metadata):
    http = OfflineHttpClient(metadata)
    cache = load(text)
    app = msal.PublicClientApplication(
        spec["client_id"],
        authority=spec["authority"],
        validate_authority=bool(spec.get("validate_authority", True)),
        token_cache=cache,
        http_client=http,
    )
    return app, cache, http


def account_view(a):
    keys = ("home_account_id", "environment", "realm", "username", "local_account_id",
            "authority_type")
    return {k: a.get(k) for k in keys}


def raised(e):
    return "%s: %s" % (type(e).__name__, e)


def spy_on_removals(cache):
    """Records the stored (section, key) of every entry MSAL Python's token cache is asked to
    remove. MSAL Python removes an entry under the key it computes from the entry's fields, so
    an entry stored under another MSAL's key (MSAL Node's keys end with extra segments) is
    selected but stays: `not_removed` lists those."""
    selected = []
    modify = cache.modify

    def spy(credential_type, old_entry, new_key_value_pairs=None):
        if not new_key_value_pairs:
            for key, entry in cache._cache.get(credential_type, {}).items():
                if entry is old_entry or entry == old_entry:
                    selected.append((credential_type, key))
        return modify(credential_type, old_entry, new_key_value_pairs)

    cache.modify = spy
    return selected


def entry_keys(serialized):
    doc = json.loads(serialized)
    out = set()
    for section, entries in doc.items():
        if isinstance(entries, dict):
            for key in entries:
                out.add((section, key))
    return out


def run_app(spec, text, metadata):
    out = {"error": None, "accounts": [], "silent": [], "refresh": [], "removed": []}
    try:
        app, _, _ = build(spec, text, metadata)
    except Exception as e:  # noqa: BLE001 - reported, not raised: the oracle's answer
        out["error"] = "%s: %s" % (type(e).__name__, e)
        return out
    accounts = app.get_accounts()
    out["accounts"] = [account_view(a) for a in accounts]
    scope_sets = spec.get("scopes") or []
    for account in accounts:
        hid = account.get("home_account_id")
        for scopes in scope_sets:
            app, _, _ = build(spec, text, metadata)
            mine = [a for a in app.get_accounts() if a.get("home_account_id") == hid]
            try:
                result = app.acquire_token_silent_with_error(list(scopes), mine[0]) or {}
            except Exception as e:  # noqa: BLE001 - MSAL Python cannot answer this call
                out["silent"].append({"home_account_id": hid, "scopes": list(scopes),
                                      "access_token": None, "raised": raised(e)})
                continue
            served = result.get("token_source") == "cache" and "access_token" in result
            out["silent"].append({
                "home_account_id": hid,
                "scopes": list(scopes),
                "access_token": result.get("access_token") if served else None,
                "raised": None,
            })
        app, _, http = build(spec, text, metadata)
        mine = [a for a in app.get_accounts() if a.get("home_account_id") == hid]
        refresh_scopes = list(scope_sets[0]) if scope_sets else ["User.Read"]
        try:
            app.acquire_token_silent_with_error(refresh_scopes, mine[0], force_refresh=True)
            error = None
        except Exception as e:  # noqa: BLE001 - MSAL Python cannot answer this call
            error = raised(e)
        out["refresh"].append({"home_account_id": hid, "refresh_tokens": http.refresh_tokens,
                               "raised": error})
        app, cache, _ = build(spec, text, metadata)
        before = entry_keys(cache.serialize())
        selected = spy_on_removals(cache)
        mine = [a for a in app.get_accounts() if a.get("home_account_id") == hid]
        try:
            app.remove_account(mine[0])
        except Exception as e:  # noqa: BLE001 - MSAL Python cannot sign this account out
            out["removed"].append({"home_account_id": hid, "entries": None,
                                   "not_removed": [], "raised": raised(e)})
            continue
        gone = before - entry_keys(cache.serialize())
        out["removed"].append({
            "home_account_id": hid,
            # Removing one entry under its computed key may remove another one stored under
            # that key: what is gone counts as selected too.
            "entries": sorted([list(k) for k in set(selected) | gone]),
            "not_removed": sorted([list(k) for k in set(selected) - gone]),
            "raised": None,
        })
    return out


def main():
    result = {"load_error": None, "apps": [], "exception": None}
    try:
        job = json.loads(sys.stdin.read())
        now = float(job["now"])
        time.time = lambda: now  # MSAL Python reads its clock through time.time()
        text = job["cache"]
        try:
            load(text)
        except Exception as e:  # noqa: BLE001 - MSAL Python's verdict on the document
            result["load_error"] = "%s: %s" % (type(e).__name__, e)
        else:
            for spec in job["apps"]:
                result["apps"].append(run_app(spec, text, job["instance_metadata"]))
    except Exception:  # noqa: BLE001 - reported to the harness
        result["exception"] = traceback.format_exc()
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
