"""MSAL Python 1.39's side of `cargo xtask bench`: the same rows as the Rust benchmark
(`tests/benches/cache.rs`), on the same cache files (`manifest.json` from `gen_caches.py`).

usage: bench_msal.py MANIFEST OUT_JSON [--rows hot,random,accounts,io,silent] [--batch 1000]
                     [--batches 200] [--budget 3] [--random-max N] [--io-reps 5]
                     [--accounts-reps 20]

No network: every app gets an `http_client` whose get() answers OpenID discovery for any
tenant of login.microsoftonline.com and whose post() raises (a cache-hit benchmark that sends
a token request fails loudly). No logging handler is installed (MSAL's loggers stay silent).
Timing: time.perf_counter_ns around batches of `--batch` calls after a warm-up batch (up to
`--batches`, fewer once `--budget` seconds passed, never fewer than 20); a row's value is the
median of the per-batch means (also p10/p90/min). Progress goes to stderr; the results
to OUT_JSON.
"""

import argparse
import gc
import json
import platform
import random
import sys
import time
from urllib.parse import urlparse

import msal

ENV = "login.microsoftonline.com"


def log(msg):
    print("bench_msal.py: " + msg, file=sys.stderr, flush=True)


class _Response:
    def __init__(self, status, text):
        self.status_code = status
        self.text = text
        self.headers = {}

    def raise_for_status(self):
        if self.status_code >= 400:
            raise RuntimeError("HTTP %d" % self.status_code)


class StubHttpClient:
    """Answers OIDC discovery in-process; refuses token requests."""

    posts = 0

    def get(self, url, params=None, headers=None, **kwargs):
        u = urlparse(url)
        parts = u.path.strip("/").split("/")
        if u.hostname != ENV or not u.path.endswith("/v2.0/.well-known/openid-configuration"):
            raise RuntimeError("unexpected GET %s" % url)
        base = "https://%s/%s" % (ENV, parts[0])
        return _Response(200, json.dumps({
            "token_endpoint": base + "/oauth2/v2.0/token",
            "authorization_endpoint": base + "/oauth2/v2.0/authorize",
            "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
            "issuer": "https://%s/%s/v2.0" % (ENV, parts[0]),
        }))

    def post(self, url, *args, **kwargs):
        StubHttpClient.posts += 1
        raise RuntimeError("a token request (POST %s) during a cache-hit benchmark" % url)

    def close(self):
        pass


def stats(means, batch):
    s = sorted(means)
    n = len(s)
    return {
        "median_ns": s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2,
        "p10_ns": s[n // 10],
        "p90_ns": s[(9 * n) // 10],
        "min_ns": s[0],
        "batches": n,
        "calls": n * batch,
        "batch": batch,
    }


def single(samples):
    r = stats(samples, 1)
    r["reps"] = r.pop("batches")
    del r["calls"], r["batch"]
    return r


def load_cache(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    cache = msal.SerializableTokenCache()
    t = time.perf_counter_ns()
    cache.deserialize(text)
    return cache, time.perf_counter_ns() - t


def app_for(manifest, tenant, cache, http):
    return msal.ConfidentialClientApplication(
        manifest["client_id"], client_credential="s",
        authority="https://%s/%s" % (ENV, tenant),
        token_cache=cache, http_client=http)


def check(r):
    if r.get("token_source") != "cache" or "access_token" not in r:
        raise SystemExit("bench_msal.py: not a cache hit: %r" % {
            k: v for k, v in r.items() if k != "access_token"})


def bench_hot(manifest, hits, cache, a):
    app = app_for(manifest, hits["hot_tenant"], cache, StubHttpClient())
    scopes = [hits["hot_resource"]]
    acquire = app.acquire_token_for_client
    for _ in range(a.batch):
        check(acquire(scopes))
    means = []
    started = time.perf_counter()
    while len(means) < a.batches and (len(means) < 20 or time.perf_counter() - started < a.budget):
        t = time.perf_counter_ns()
        for _ in range(a.batch):
            r = acquire(scopes)
            if "access_token" not in r:
                check(r)
        means.append((time.perf_counter_ns() - t) / a.batch)
    check(r)
    return stats(means, a.batch)


def bench_random(manifest, hits, cache, a):
    http = StubHttpClient()
    started = time.perf_counter()
    apps = [app_for(manifest, t, cache, http).acquire_token_for_client for t in hits["tenants"]]
    built = time.perf_counter() - started
    log("random: %d apps (one per tenant, sharing one cache) built in %.1f s" % (
        len(apps), built))
    scopes = [[r] for r in hits["resources"]]
    rng = random.Random(42)
    total = a.batch * (a.batches + 1)
    picks = [(apps[rng.randrange(len(apps))], scopes[rng.randrange(len(scopes))])
             for _ in range(total)]
    for acquire, s in picks[:a.batch]:
        check(acquire(s))
    means = []
    started = time.perf_counter()
    for b in range(1, a.batches + 1):
        if len(means) >= 20 and time.perf_counter() - started >= a.budget:
            break
        chunk = picks[b * a.batch:(b + 1) * a.batch]
        t = time.perf_counter_ns()
        for acquire, s in chunk:
            r = acquire(s)
            if "access_token" not in r:
                check(r)
        means.append((time.perf_counter_ns() - t) / a.batch)
    out = stats(means, a.batch)
    out["apps"] = len(apps)
    out["apps_build_s"] = round(built, 2)
    return out


def bench_silent(manifest, a):
    """acquire_token_silent for the hot account of the silent-row file: the same scopes,
    account and cache file as the Rust side. A call may scan the whole cache (MSAL Python's
    exact-key fast path needs the request's scopes to equal the cached target), so the batch
    is sized from a first call to take about a tenth of a second."""
    silent = manifest["silent"]
    cache, ns = load_cache(silent["path"])
    app = msal.ConfidentialClientApplication(
        manifest["client_id"], client_credential="s", authority=silent["authority"],
        token_cache=cache, http_client=StubHttpClient())
    hid = silent["hot_home_account_id"]
    accounts = [x for x in app.get_accounts() if x["home_account_id"] == hid]
    if len(accounts) != 1:
        raise SystemExit("bench_msal.py: the hot account %s is not in the cache" % hid)
    account = accounts[0]
    scopes = list(silent["scopes"])
    acquire = app.acquire_token_silent
    t = time.perf_counter_ns()
    r = acquire(scopes, account)
    first = time.perf_counter_ns() - t
    if not r or r.get("token_source") != "cache":
        raise SystemExit("bench_msal.py: silent: not a cache hit: %r" % (
            r and {k: v for k, v in r.items() if k != "access_token"}))
    batch = max(1, min(a.batch, int(1e8 // max(first, 1))))
    for _ in range(batch):
        acquire(scopes, account)
    means = []
    started = time.perf_counter()
    while len(means) < a.batches and (len(means) < 20 or time.perf_counter() - started < a.budget):
        t = time.perf_counter_ns()
        for _ in range(batch):
            r = acquire(scopes, account)
        means.append((time.perf_counter_ns() - t) / batch)
        if not r or r.get("token_source") != "cache":
            raise SystemExit("bench_msal.py: silent: not a cache hit")
    out = stats(means, batch)
    out["accounts"] = silent["accounts"]
    out["load_s"] = round(ns / 1e9, 2)
    return out


def rss_mb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("manifest")
    p.add_argument("out")
    p.add_argument("--rows", default="hot,random,accounts,io,silent")
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--batches", type=int, default=200)
    p.add_argument("--budget", type=float, default=3.0,
                   help="seconds one timed row may run once it has 20 batches")
    p.add_argument("--random-max", type=int, default=None)
    p.add_argument("--io-reps", type=int, default=5)
    p.add_argument("--accounts-reps", type=int, default=20)
    a = p.parse_args()
    rows = set(a.rows.split(","))
    with open(a.manifest, encoding="utf-8") as f:
        manifest = json.load(f)
    result = {"impl": "MSAL Python %s" % msal.__version__,
              "python": platform.python_version(), "rows": {}, "info": {}}

    hits_list = sorted(manifest["hits"], key=lambda h: h["tokens"])
    random_hits = None
    if "random" in rows:
        fits = [h for h in hits_list if a.random_max is None or h["tokens"] <= a.random_max]
        random_hits = fits[-1] if fits else None
    for hits in hits_list:
        n = hits["tokens"]
        need_hot = "hot" in rows
        need_random = random_hits is hits
        if not (need_hot or need_random):
            continue
        log("loading %d tokens from %s" % (n, hits["path"]))
        cache, ns = load_cache(hits["path"])
        result["info"]["load_hits_%d_s" % n] = round(ns / 1e9, 2)
        result["info"]["rss_after_load_%d_mb" % n] = rss_mb()
        log("loaded %d tokens in %.1f s (RSS %s MB)" % (n, ns / 1e9, rss_mb()))
        if need_hot:
            result["rows"]["hot-%d" % n] = bench_hot(manifest, hits, cache, a)
            log("hot-%d: median %.0f ns" % (n, result["rows"]["hot-%d" % n]["median_ns"]))
        if need_random:
            r = bench_random(manifest, hits, cache, a)
            r["tokens"] = n
            result["rows"]["random"] = r
            result["info"]["rss_after_random_mb"] = rss_mb()
            log("random over %d: median %.0f ns (RSS %s MB)" % (n, r["median_ns"], rss_mb()))
        del cache
        gc.collect()

    users = manifest["users"]
    if "accounts" in rows or "io" in rows:
        with open(users["path"], encoding="utf-8") as f:
            text = f.read()
    if "accounts" in rows:
        cache = msal.SerializableTokenCache()
        cache.deserialize(text)
        app = msal.ConfidentialClientApplication(
            manifest["client_id"], client_credential="s", authority=users["authority"],
            token_cache=cache, http_client=StubHttpClient())
        found = len(app.get_accounts())
        if found != users["accounts"]:
            raise SystemExit("bench_msal.py: get_accounts() found %d accounts, expected %d" % (
                found, users["accounts"]))
        samples = []
        for _ in range(a.accounts_reps):
            t = time.perf_counter_ns()
            app.get_accounts()
            samples.append(time.perf_counter_ns() - t)
        result["rows"]["accounts"] = single(samples)
        log("accounts: median %.2f ms" % (result["rows"]["accounts"]["median_ns"] / 1e6))
        del cache, app
    if "io" in rows:
        load, save = [], []
        cache = msal.SerializableTokenCache()
        for _ in range(a.io_reps):
            cache = msal.SerializableTokenCache()
            t = time.perf_counter_ns()
            cache.deserialize(text)
            load.append(time.perf_counter_ns() - t)
        for _ in range(a.io_reps):
            t = time.perf_counter_ns()
            out = cache.serialize()
            save.append(time.perf_counter_ns() - t)
        result["rows"]["load"] = single(load)
        result["rows"]["save"] = single(save)
        result["info"]["saved_bytes"] = len(out.encode("utf-8"))
        result["info"]["file_bytes"] = len(text.encode("utf-8"))
        log("load: median %.1f ms, save: median %.1f ms" % (
            result["rows"]["load"]["median_ns"] / 1e6, result["rows"]["save"]["median_ns"] / 1e6))
    if "silent" in rows:
        log("silent: loading %d accounts from %s" % (
            manifest["silent"]["accounts"], manifest["silent"]["path"]))
        r = bench_silent(manifest, a)
        result["rows"]["silent"] = r
        result["info"]["load_silent_s"] = r["load_s"]
        log("silent over %d accounts: median %.0f ns (batches of %d)" % (
            r["accounts"], r["median_ns"], r["batch"]))
        gc.collect()
    if StubHttpClient.posts:
        raise SystemExit("bench_msal.py: %d token requests were made" % StubHttpClient.posts)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
