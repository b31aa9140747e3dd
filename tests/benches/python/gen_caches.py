"""Generates the cache files `cargo xtask bench` measures msal-rs and MSAL Python on.

usage: gen_caches.py OUT_DIR --hits N[,N...] --users N [--silent N] [--seed S]

Writes, under OUT_DIR:

- `hits-N.json`: N app-only access tokens (client credentials), `T` tenants x `R` resources,
  every entry exactly as MSAL Python 1.39's `TokenCache.add` writes it after
  `acquire_token_for_client` (PROTOCOL section 10.3), one `AppMetadata`, in the layout of
  `SerializableTokenCache.serialize()` (`json.dumps(cache, indent=4)`). The entries are
  streamed out one by one (a million tokens do not fit comfortably in a Python dict here), and
  the streaming is checked against `json.dumps(..., indent=4)` on a small cache first.
- `users-N.json`: N users signed in by the auth-code flow, written by MSAL Python itself:
  `SerializableTokenCache.add(event)` with the event `acquire_token_by_auth_code_flow` records
  (AT, RT, IdT, Account; one AppMetadata for the app), then `serialize()`.
- `silent-N.json` (with `--silent N`, when N differs from `--users`; else the users file is
  used): N users written the same way, for the silent-acquisition row; the manifest names the
  account in the middle as the hot one.
- `manifest.json`: what was generated (client id, tenants, resources, hot key, sizes, mean
  secret length), read by the Rust benchmark and by `bench_msal.py`.

Every secret is JWT-sized (about 1.5 KB): access and ID tokens are three base64url parts
(a header, a claims set like Entra's, a 256-byte signature), refresh tokens an opaque string
of the same size. Expiry is ten years ahead so that no token expires during a run.
"""

import argparse
import base64
import json
import os
import random
import sys
import time

import msal
from msal.token_cache import TokenCache

CLIENT_ID = "5e6a1c3d-0b1f-4f27-9a1e-7c3b2d4e5f60"
ENVIRONMENT = "login.microsoftonline.com"
TEN_YEARS = 10 * 365 * 24 * 3600
GENERATOR_VERSION = 4


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_json(obj) -> str:
    return b64u(json.dumps(obj, separators=(",", ":")).encode())


def tenant_id(i: int) -> str:
    """A GUID-shaped tenant id, deterministic in i."""
    h = (i * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & ((1 << 128) - 1)
    h ^= h >> 29
    x = "%032x" % ((h * 0xBF58476D1CE4E5B9) & ((1 << 128) - 1))
    return "%s-%s-4%s-8%s-%s" % (x[0:8], x[8:12], x[13:16], x[17:20], x[20:32])


def resource(j: int) -> str:
    return "https://api%03d.contoso.example/.default" % j


HEADER = b64u_json({"typ": "JWT", "alg": "RS256", "x5t": "JYhAcTPMZ_LX6DBlOWQ7Hn0NeXE",
                    "kid": "JYhAcTPMZ_LX6DBlOWQ7Hn0NeXE"})


def jwt(claims: dict, rng: random.Random) -> str:
    """header.claims.signature, with a random 2048-bit-RSA-sized signature."""
    return HEADER + "." + b64u_json(claims) + "." + b64u(rng.randbytes(256))


def app_token(tid: str, aud: str, now: int, rng: random.Random) -> str:
    return jwt({
        "aud": aud.rsplit("/.default", 1)[0],
        "iss": "https://sts.windows.net/%s/" % tid,
        "iat": now, "nbf": now, "exp": now + 3599,
        "aio": b64u(rng.randbytes(66)),
        "app_displayname": "msal-rs benchmark daemon",
        "appid": CLIENT_ID, "appidacr": "1",
        "idp": "https://sts.windows.net/%s/" % tid, "idtyp": "app",
        "oid": tenant_id(rng.getrandbits(40)), "rh": "0." + b64u(rng.randbytes(60)),
        "roles": ["Data.Read.All", "Data.Write.All"],
        "sub": tenant_id(rng.getrandbits(40)), "tid": tid,
        "uti": b64u(rng.randbytes(16)), "ver": "1.0",
        "xms_idrel": "7 20",
        "xms_tcdt": 1600000000,
    }, rng)


def at_entry(tid: str, target: str, now: int, rng: random.Random) -> dict:
    # The fields and their order as TokenCache.__add writes them for client credentials.
    return {
        "credential_type": "AccessToken",
        "secret": app_token(tid, target, now, rng),
        "home_account_id": None,
        "environment": ENVIRONMENT,
        "client_id": CLIENT_ID,
        "target": target,
        "realm": tid,
        "token_type": "Bearer",
        "cached_at": str(now),
        "expires_on": str(now + TEN_YEARS),
        "extended_expires_on": str(now + TEN_YEARS),
    }


def indent_entry(key: str, entry: dict) -> str:
    """One `"key": {...}` item of a section, as json.dumps(cache, indent=4) lays it out."""
    body = json.dumps(entry, indent=4).replace("\n", "\n" + " " * 8)
    return " " * 8 + json.dumps(key) + ": " + body


def write_hits(path: str, tenants: list, resources: list, now: int, rng: random.Random):
    """Streams the app-token cache to `path`; returns the mean secret length."""
    keymaker = TokenCache().key_makers[TokenCache.CredentialType.ACCESS_TOKEN]
    md = {"client_id": CLIENT_ID, "environment": ENVIRONMENT}
    md_key = TokenCache().key_makers[TokenCache.CredentialType.APP_METADATA](**md)
    total = 0
    count = 0
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", buffering=1 << 22) as f:
        f.write('{\n    "AccessToken": {\n')
        first = True
        for tid in tenants:
            for res in resources:
                at = at_entry(tid, res, now, rng)
                total += len(at["secret"])
                count += 1
                if not first:
                    f.write(",\n")
                first = False
                f.write(indent_entry(keymaker(**at), at))
        f.write("\n    },\n    \"AppMetadata\": {\n")
        f.write(indent_entry(md_key, md))
        f.write("\n    }\n}")
    os.replace(tmp, path)
    return total / max(count, 1)


def self_check_streaming(now: int):
    """The streamed layout must equal MSAL Python's own serialize() byte for byte."""
    rng = random.Random(7)
    tenants = [tenant_id(i) for i in range(3)]
    resources = [resource(j) for j in range(2)]
    path = os.path.join(ARGS.out, "selfcheck.json")
    write_hits(path, tenants, resources, now, random.Random(7))
    cache = msal.SerializableTokenCache()
    keymaker = cache.key_makers[TokenCache.CredentialType.ACCESS_TOKEN]
    state = {"AccessToken": {}, "AppMetadata": {}}
    for tid in tenants:
        for res in resources:
            at = at_entry(tid, res, now, rng)
            state["AccessToken"][keymaker(**at)] = at
    md = {"client_id": CLIENT_ID, "environment": ENVIRONMENT}
    state["AppMetadata"][cache.key_makers["AppMetadata"](**md)] = md
    cache.deserialize(json.dumps(state))
    with open(path, encoding="utf-8") as f:
        streamed = f.read()
    os.remove(path)
    if streamed != cache.serialize():
        sys.exit("gen_caches.py: the streamed layout differs from SerializableTokenCache.serialize()")


def write_users(path: str, n: int, now: int, rng: random.Random):
    """n auth-code sign-ins recorded by MSAL Python's own TokenCache.add; returns the mean
    secret length."""
    cache = msal.SerializableTokenCache()
    token_endpoint = "https://%s/organizations/oauth2/v2.0/token" % ENVIRONMENT
    scope = ["User.Read", "offline_access", "openid", "profile"]
    total = 0
    for i in range(n):
        uid, utid = user_ids(i)
        idt = jwt({
            "aud": CLIENT_ID,
            "iss": "https://login.microsoftonline.com/%s/v2.0" % utid,
            "iat": now, "nbf": now, "exp": now + 3600,
            "aio": b64u(rng.randbytes(150)),
            "name": "Bench User %d" % i, "nonce": b64u(rng.randbytes(32)),
            "oid": uid, "preferred_username": "user%d@contoso.example" % i,
            "rh": "0." + b64u(rng.randbytes(80)),
            "sid": tenant_id(20_000_000 + i), "sub": b64u(rng.randbytes(32)),
            "tid": utid, "uti": b64u(rng.randbytes(16)), "ver": "2.0",
        }, rng)
        at = app_token(utid, "https://graph.microsoft.com/.default", now, rng)
        rt = "1.A" + b64u(rng.randbytes(1120))
        total += len(idt) + len(at) + len(rt)
        cache.add({
            "client_id": CLIENT_ID,
            "scope": scope,
            "token_endpoint": token_endpoint,
            "environment": ENVIRONMENT,
            "grant_type": "authorization_code",
            "params": {},
            "data": {"client_id": CLIENT_ID, "scope": " ".join(scope),
                     "redirect_uri": "http://localhost:5000/cb", "code": "c"},
            "response": {
                "token_type": "Bearer", "scope": " ".join(scope),
                "expires_in": TEN_YEARS, "ext_expires_in": TEN_YEARS,
                "access_token": at, "refresh_token": rt, "id_token": idt,
                "client_info": b64u_json({"uid": uid, "utid": utid}),
            },
        }, now=now)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(cache.serialize())
    os.replace(tmp, path)
    return total / max(3 * n, 1)


def user_ids(i: int):
    """(uid, utid) of the i-th generated user, as write_users signs them in."""
    return tenant_id(10_000_000 + i), tenant_id(i % 100)


def layout(n: int):
    """(tenants, resources) for n tokens: 100 resources per tenant, or fewer for tiny caches."""
    r = 100 if n >= 100 else n
    if n % r:
        sys.exit("gen_caches.py: %d tokens is not a multiple of %d resources" % (n, r))
    return n // r, r


def main():
    os.makedirs(ARGS.out, exist_ok=True)
    now = int(time.time())
    manifest_path = os.path.join(ARGS.out, "manifest.json")
    wanted = {"generator": GENERATOR_VERSION, "msal": msal.__version__, "seed": ARGS.seed,
              "hits": sorted(ARGS.hits), "users": ARGS.users, "silent": ARGS.silent}
    try:
        with open(manifest_path, encoding="utf-8") as f:
            old = json.load(f)
        if old.get("request") == wanted and all(
                os.path.exists(h["path"]) for h in old["hits"]) and os.path.exists(
                old["users"]["path"]) and os.path.exists(old["silent"]["path"]):
            print("gen_caches.py: reusing the cache files of %s" % manifest_path, file=sys.stderr)
            return
    except (OSError, ValueError, KeyError):
        pass
    self_check_streaming(now)
    hits = []
    for n in sorted(ARGS.hits):
        t, r = layout(n)
        tenants = [tenant_id(i) for i in range(t)]
        resources = [resource(j) for j in range(r)]
        path = os.path.abspath(os.path.join(ARGS.out, "hits-%d.json" % n))
        started = time.time()
        mean = write_hits(path, tenants, resources, now, random.Random(ARGS.seed + n))
        print("gen_caches.py: %s: %d tokens (%d tenants x %d resources) in %.1f s" % (
            path, n, t, r, time.time() - started), file=sys.stderr)
        hits.append({"tokens": n, "path": path, "tenants": tenants, "resources": resources,
                     "hot_tenant": tenants[t // 2], "hot_resource": resources[r // 2],
                     "mean_secret_bytes": round(mean), "bytes": os.path.getsize(path)})
    started = time.time()
    users_path = os.path.abspath(os.path.join(ARGS.out, "users-%d.json" % ARGS.users))
    mean = write_users(users_path, ARGS.users, now, random.Random(ARGS.seed))
    print("gen_caches.py: %s: %d accounts in %.1f s" % (
        users_path, ARGS.users, time.time() - started), file=sys.stderr)
    silent_n = ARGS.silent if ARGS.silent is not None else ARGS.users
    if silent_n == ARGS.users:
        silent_path = users_path
    else:
        started = time.time()
        silent_path = os.path.abspath(os.path.join(ARGS.out, "silent-%d.json" % silent_n))
        write_users(silent_path, silent_n, now, random.Random(ARGS.seed + silent_n))
        print("gen_caches.py: %s: %d accounts in %.1f s" % (
            silent_path, silent_n, time.time() - started), file=sys.stderr)
    hot_uid, hot_utid = user_ids(silent_n // 2)
    manifest = {
        "request": wanted,
        "client_id": CLIENT_ID,
        "environment": ENVIRONMENT,
        "hits": hits,
        "users": {"accounts": ARGS.users, "path": users_path,
                  "authority": "https://%s/organizations" % ENVIRONMENT,
                  "mean_secret_bytes": round(mean), "bytes": os.path.getsize(users_path)},
        "silent": {"accounts": silent_n, "path": silent_path,
                   "authority": "https://%s/organizations" % ENVIRONMENT,
                   "scopes": ["User.Read"],
                   "hot_home_account_id": "%s.%s" % (hot_uid, hot_utid),
                   "bytes": os.path.getsize(silent_path)},
    }
    with open(manifest_path, "w", encoding="utf-8") as f:
        json.dump(manifest, f)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out")
    p.add_argument("--hits", type=lambda s: [int(x) for x in s.split(",")], required=True)
    p.add_argument("--users", type=int, required=True)
    p.add_argument("--silent", type=int, default=None,
                   help="accounts in the silent-acquisition file (default: the users file)")
    p.add_argument("--seed", type=int, default=20261123)
    ARGS = p.parse_args()
    main()
