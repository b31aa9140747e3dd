#!/usr/bin/env node
/*
 * MSAL Node's side of the msal-rs conformance suite.
 *
 * Reads one JSON job on stdin, runs MSAL Node (@azure/msal-node, pinned in package.json next to
 * this file and installed by `cargo xtask conformance`) against the local Entra ID emulator over
 * one token cache file, and prints one JSON result on stdout. Only @azure/msal-node and Node's
 * standard library are used.
 *
 * The directory holding node_modules/@azure/msal-node is the environment variable
 * MSAL_CONFORMANCE_NODE.
 *
 * Job:
 *   {
 *     "emulator": {"addr": "127.0.0.1:PORT", "ca_path": "/path/ca.pem", "hosts": ["login.microsoftonline.com", ...]},
 *     "cache_file": "/abs/path/msal_token_cache.json",
 *     "apps": [{"client_id": "...", "client_secret": null | "...", "authority": "https://...",
 *               "known_authorities": [] }],
 *     "steps": [{"op": "client_credentials", "app": 0, "scopes": [...], "force_refresh": false},
 *               {"op": "username_password", "app": 0, "scopes": [...], "username": "...", "password": "..."},
 *               {"op": "silent", "app": 0, "scopes": [...], "username": "...", "force_refresh": false,
 *                "tenant": null | "tenant id (pick the user's account of that tenant)"}]
 *   }
 *   An app with a client_secret is a ConfidentialClientApplication, otherwise a
 *   PublicClientApplication. Every app is built at its first step; all share the file through
 *   an ICachePlugin (beforeCacheAccess deserializes the file, afterCacheAccess writes it when
 *   the cache changed), the documented persistence seam of MSAL Node.
 *
 * Result:
 *   {"calls": [{"token_source": "cache" | "identity_provider" | null, "has_access_token": true,
 *               "tenant_id": "the result's tenantId" | null,
 *               "error": null, "error_description": null,
 *               "requests": [{"method": "POST", "url": "https://login.microsoftonline.com/..."}],
 *               "accounts": [{"home_account_id": "...", "environment": "...", "realm": "...",
 *                             "local_account_id": "...", "username": "..."}]}],
 *    "exception": null | "stack"}
 *
 * Every request goes through LoopbackNetwork, MSAL Node's documented network-client seam
 * (`system.networkClient`, an INetworkModule): it refuses any URL that is not https on an
 * emulator host, and connects to the emulator's loopback address with Node's `https` (the
 * emulator's CA as the only trusted root, the original host name for SNI and the Host header,
 * a `lookup` that resolves every host to the emulator's loopback address): traffic never leaves
 * loopback.
 */

"use strict";

const fs = require("fs");
const https = require("https");
const path = require("path");

const NODE_DIR = process.env.MSAL_CONFORMANCE_NODE;
if (!NODE_DIR) {
  process.stderr.write("MSAL_CONFORMANCE_NODE is not set\n");
  process.exit(2);
}
const msal = require(require.resolve("@azure/msal-node", { paths: [NODE_DIR] }));

/** How long one request may take (ms). */
const REQUEST_TIMEOUT_MS = 30000;

class RefusedDestination extends Error {}

/** An INetworkModule that only talks to the emulator on loopback. */
class LoopbackNetwork {
  constructor(emulator) {
    const [ip, port] = splitAddr(emulator.addr);
    if (ip !== "127.0.0.1" && ip !== "::1") {
      throw new RefusedDestination(`the emulator is not on loopback: ${emulator.addr}`);
    }
    this.ip = ip;
    this.port = port;
    this.ca = fs.readFileSync(emulator.ca_path);
    this.hosts = new Set(emulator.hosts.map((h) => h.toLowerCase()));
    this.sent = [];
  }

  sendGetRequestAsync(url, options, timeout) {
    return this.send("GET", url, options, timeout);
  }

  sendPostRequestAsync(url, options) {
    return this.send("POST", url, options);
  }

  send(method, url, options, timeout) {
    const u = new URL(url);
    const host = u.hostname.toLowerCase();
    if (u.protocol !== "https:" || !this.hosts.has(host) || (u.port !== "" && u.port !== "443")) {
      return Promise.reject(
        new RefusedDestination(
          `refused ${method} ${url}: not an emulator host (traffic must stay on loopback)`,
        ),
      );
    }
    this.sent.push({ method, url });
    const family = this.ip.includes(":") ? 6 : 4;
    const ip = this.ip;
    const headers = Object.assign({}, (options && options.headers) || {});
    headers.Host = host;
    const body = method === "POST" ? (options && options.body) || "" : null;
    if (body !== null) {
      headers["Content-Length"] = Buffer.byteLength(body);
    }
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          method,
          hostname: host,
          port: this.port,
          path: u.pathname + u.search,
          headers,
          ca: this.ca,
          servername: host,
          agent: false,
          // Every emulator host resolves to its loopback address.
          lookup: (_name, opts, cb) => {
            if (opts && opts.all) {
              cb(null, [{ address: ip, family }]);
            } else {
              cb(null, ip, family);
            }
          },
          timeout: timeout || REQUEST_TIMEOUT_MS,
        },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const hdrs = {};
            for (const [k, v] of Object.entries(res.headers)) {
              hdrs[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : String(v);
            }
            let parsed;
            try {
              parsed = text === "" ? {} : JSON.parse(text);
            } catch (e) {
              reject(new Error(`${method} ${url}: a non-JSON answer (${res.statusCode}): ${text.slice(0, 300)}`));
              return;
            }
            resolve({ headers: hdrs, body: parsed, status: res.statusCode });
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${url}: timed out`)));
      req.on("error", reject);
      if (body !== null) {
        req.write(body);
      }
      req.end();
    });
  }
}

function splitAddr(addr) {
  const i = addr.lastIndexOf(":");
  let ip = addr.slice(0, i);
  if (ip.startsWith("[") && ip.endsWith("]")) {
    ip = ip.slice(1, -1);
  }
  return [ip, Number(addr.slice(i + 1))];
}

/** MSAL Node's ICachePlugin over one file (written through a temporary file and a rename). */
function filePlugin(file) {
  return {
    async beforeCacheAccess(ctx) {
      let text = null;
      try {
        text = fs.readFileSync(file, "utf8");
      } catch (e) {
        if (e.code !== "ENOENT") {
          throw e;
        }
      }
      if (text !== null && text.trim() !== "") {
        ctx.tokenCache.deserialize(text);
      }
    },
    async afterCacheAccess(ctx) {
      if (ctx.cacheHasChanged) {
        const tmp = path.join(path.dirname(file), `.${path.basename(file)}.node-${process.pid}.tmp`);
        fs.writeFileSync(tmp, ctx.tokenCache.serialize());
        fs.renameSync(tmp, file);
      }
    },
  };
}

function buildApp(spec, network, file) {
  const config = {
    auth: {
      clientId: spec.client_id,
      authority: spec.authority,
      knownAuthorities: spec.known_authorities || [],
    },
    cache: { cachePlugin: filePlugin(file) },
    system: { networkClient: network },
  };
  if (spec.client_secret) {
    config.auth.clientSecret = spec.client_secret;
    return new msal.ConfidentialClientApplication(config);
  }
  return new msal.PublicClientApplication(config);
}

function accountView(a) {
  return {
    home_account_id: a.homeAccountId,
    environment: a.environment,
    realm: a.tenantId,
    local_account_id: a.localAccountId,
    username: a.username,
  };
}

/**
 * Whether the account is the user: by `username`, or (B2C, whose ID tokens carry the address in
 * `emails` and no `preferred_username`, so MSAL Node's account has username "") by
 * `idTokenClaims.emails`, as MSAL Node's B2C samples pick the account.
 */
function namesUser(account, username) {
  const want = username.toLowerCase();
  if ((account.username || "").toLowerCase() === want) {
    return true;
  }
  const emails = (account.idTokenClaims && account.idTokenClaims.emails) || [];
  return Array.isArray(emails) && emails.some((e) => String(e).toLowerCase() === want);
}

async function runStep(app, step) {
  switch (step.op) {
    case "client_credentials":
      return app.acquireTokenByClientCredential({
        scopes: step.scopes,
        skipCache: !!step.force_refresh,
      });
    case "username_password":
      return app.acquireTokenByUsernamePassword({
        scopes: step.scopes,
        username: step.username,
        password: step.password,
      });
    case "silent": {
      const accounts = await app.getTokenCache().getAllAccounts();
      // The user's account for the step's tenant where MSAL Node lists one per tenant
      // profile (its documented way to get a guest tenant's cached token), else the first.
      const named = accounts.filter((a) => namesUser(a, step.username));
      const account =
        named.find((a) => step.tenant && (a.tenantId || "").toLowerCase() === step.tenant.toLowerCase()) ||
        named[0];
      if (!account) {
        return {
          error: "no_account",
          error_description: `getAllAccounts() has no ${step.username} among ${accounts.length} account(s): ${JSON.stringify(accounts.map(accountView))}`,
        };
      }
      return app.acquireTokenSilent({
        account,
        scopes: step.scopes,
        forceRefresh: !!step.force_refresh,
      });
    }
    default:
      throw new Error(`unknown op ${step.op}`);
  }
}

async function main() {
  const input = fs.readFileSync(0, "utf8");
  const job = JSON.parse(input);
  const out = { calls: [], exception: null };
  try {
    const network = new LoopbackNetwork(job.emulator);
    const apps = new Map();
    for (const step of job.steps) {
      network.sent = [];
      const i = step.app || 0;
      if (!apps.has(i)) {
        apps.set(i, buildApp(job.apps[i], network, job.cache_file));
      }
      const app = apps.get(i);
      let result;
      try {
        result = (await runStep(app, step)) || {};
      } catch (e) {
        result = {
          error: e.errorCode || e.name || "error",
          error_description: e.errorMessage || e.message || String(e),
        };
      }
      const accounts = await app.getTokenCache().getAllAccounts();
      out.calls.push({
        tenant_id: result.tenantId || null,
        token_source: result.error
          ? null
          : result.fromCache
            ? "cache"
            : "identity_provider",
        has_access_token: !!result.accessToken,
        error: result.error || null,
        error_description: result.error_description || null,
        requests: network.sent,
        accounts: accounts.map(accountView),
      });
    }
  } catch (e) {
    out.exception = (e && e.stack) || String(e);
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${(e && e.stack) || e}\n`);
    process.exit(1);
  },
);
