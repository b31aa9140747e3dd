// node oidc-provider (https://github.com/panva/node-oidc-provider, OpenID Certified) as an
// independent OpenID Connect peer of the msal-rs conformance suite (`oidc.rs` starts it).
//
// usage: node server.mjs CONFIG.json, with OIDC_PROVIDER_DIR naming the directory whose
// node_modules holds oidc-provider (`cargo xtask conformance` installs it there with `npm ci`).
//
// One process, one provider per issuer, each on its own free loopback port over HTTPS (the
// harness's test CA signed the certificate). The issuers differ in their number of path
// segments (CONFIG.mounts, e.g. "", "/tenant1", "/a/b"); a provider below a path is mounted
// the way oidc-provider documents for a mount path (req.originalUrl keeps the full URL,
// req.url is relative to the mount). Once every provider listens, one JSON line is printed:
//   {"issuers": ["https://127.0.0.1:P0", "https://127.0.0.1:P1/tenant1", ...]}
// The process exits when its stdin closes, so it never outlives the harness.
//
// Signing keys are generated at start. The clients (CONFIG.clients):
//   web_app        confidential, client_secret_post (auth code + PKCE, refresh, client credentials)
//   public_client  native, no client authentication (device code, auth code + PKCE, refresh)
//   cert_client    confidential, private_key_jwt; its jwks is the public key of CONFIG.client_cert
//
// What this adds to oidc-provider's defaults, all of it test configuration:
// - offline_access is honoured without prompt=consent: oidc-provider follows OpenID Connect
//   Core 1.0 section 11 and drops offline_access unless prompt=consent, and MSAL clients always
//   ask for offline_access and never send prompt=consent; `/auth` requests asking for
//   offline_access get prompt=consent added, so a refresh token is issued.
// - The device authorization response carries `interval` (CONFIG.device_interval seconds;
//   oidc-provider sends none, and RFC 8628 section 3.2 then means 5).
// - slow_down (RFC 8628 section 3.5): oidc-provider 9.13.3 defines the error but never sends
//   it. Here the second token request of every device code is answered slow_down, and from
//   then on a poll sooner than the (increased) interval after the previous one gets slow_down
//   again. Every poll and its answer is recorded; GET /__harness/device-polls?user_code=X
//   returns them, so the harness can approve the code after the first poll and check that
//   each client slowed down.

import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = process.env.OIDC_PROVIDER_DIR;
if (!dir) {
  process.stderr.write('OIDC_PROVIDER_DIR is not set\n');
  process.exit(2);
}
const resolved = createRequire(path.join(dir, 'package.json')).resolve('oidc-provider');
const { default: Provider } = await import(pathToFileURL(resolved).href);

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const tls = { cert: fs.readFileSync(config.tls_cert), key: fs.readFileSync(config.tls_key) };
const INTERVAL = Number(config.device_interval);
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const MAX_BODY = 64 * 1024;
// Timers fire a little early or late: a client that waited the interval is not penalised.
const TOLERANCE_MS = 100;

// The parent (the conformance harness) holds our stdin: when it goes, so do we.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();

function signingKeys() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { keys: [{ ...jwk, kid: 'op-key-1', alg: 'RS256', use: 'sig' }] };
}

function clientJwks() {
  const cert = new crypto.X509Certificate(fs.readFileSync(config.client_cert));
  const jwk = cert.publicKey.export({ format: 'jwk' });
  return { keys: [{ ...jwk, use: 'sig' }] };
}

const clients = (c) => [
  {
    client_id: c.web_app.client_id,
    client_secret: c.web_app.client_secret,
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    redirect_uris: [c.web_app.redirect_uri],
  },
  {
    client_id: c.public_client.client_id,
    token_endpoint_auth_method: 'none',
    application_type: 'native',
    grant_types: ['authorization_code', 'refresh_token', DEVICE_GRANT],
    response_types: ['code'],
    redirect_uris: [c.public_client.redirect_uri],
  },
  {
    // No token_endpoint_auth_signing_alg: MSAL signs certificate assertions PS256.
    client_id: c.cert_client.client_id,
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: clientJwks(),
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  },
];

function providerConfig() {
  return {
    jwks: signingKeys(),
    clients: clients(config.clients),
    clientAuthMethods: ['client_secret_post', 'client_secret_basic', 'private_key_jwt', 'none'],
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'api.read'],
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
    },
    issueRefreshToken: async (ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    findAccount: async (ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, email: `${sub}@example.test`, name: `User ${sub}` }),
    }),
    ttl: {
      AccessToken: 3600,
      ClientCredentials: 3600,
      IdToken: 3600,
      RefreshToken: 86400,
      DeviceCode: 600,
      Interaction: 600,
      Session: 3600,
      Grant: 86400,
    },
  };
}

function normalizeUserCode(code) {
  return String(code || '').replace(/[^A-Za-z0-9]/g, '').toUpperCase();
}

// The device codes of one provider: device_code -> { userCode, start, interval, lastAt, polls }.
function deviceBook() {
  const byDeviceCode = new Map();
  return {
    issued(deviceCode, userCode) {
      byDeviceCode.set(deviceCode, {
        userCode: normalizeUserCode(userCode),
        start: Date.now(),
        interval: INTERVAL,
        lastAt: undefined,
        polls: [],
      });
    },
    // The answer this harness gives a poll itself (slow_down), or null to let oidc-provider answer.
    poll(deviceCode) {
      const s = byDeviceCode.get(deviceCode);
      if (!s) return { state: null, answer: null };
      const now = Date.now();
      const early = s.lastAt !== undefined && now - s.lastAt < s.interval * 1000 - TOLERANCE_MS;
      const answer = s.polls.length === 1 || early ? 'slow_down' : null;
      if (answer) s.interval += 5;
      s.lastAt = now;
      s.polls.push({ ms: now - s.start, answer: answer || 'pending' });
      return { state: s, answer };
    },
    find(userCode) {
      const want = normalizeUserCode(userCode);
      for (const s of byDeviceCode.values()) {
        if (s.userCode === want) return s;
      }
      return undefined;
    },
  };
}

function forceConsent(url) {
  const u = new URL(url, 'https://127.0.0.1');
  const scopes = (u.searchParams.get('scope') || '').split(' ');
  if (u.pathname === '/auth' && scopes.includes('offline_access')) {
    const p = new Set((u.searchParams.get('prompt') || '').split(' ').filter(Boolean));
    p.add('consent');
    u.searchParams.set('prompt', [...p].join(' '));
  }
  return u.pathname + u.search;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('request body too large'));
        req.destroy();
      } else {
        chunks.push(c);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function start(mount) {
  const server = https.createServer(tls);
  // Node closes an idle keep-alive connection after 5 s by default, about when a client that
  // waited out slow_down (6 s) reuses it: a close racing a reuse fails the client's request
  // (MSAL Python does not retry a POST). No case keeps a connection idle for a minute.
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const issuer = `https://127.0.0.1:${server.address().port}${mount}`;
  const provider = new Provider(issuer, providerConfig());
  const devices = deviceBook();
  provider.on('server_error', (ctx, err) => console.error('server_error', issuer, err));

  // After oidc-provider answered: remember device codes (and announce the interval), and
  // record the answer to every device code poll it handled.
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST') return;
    if (ctx.path === '/device/auth' && ctx.status === 200 && ctx.body && ctx.body.device_code) {
      devices.issued(ctx.body.device_code, ctx.body.user_code);
      ctx.body = { ...ctx.body, interval: INTERVAL };
    } else if (ctx.path === '/token' && ctx.req.devicePoll) {
      const last = ctx.req.devicePoll.polls[ctx.req.devicePoll.polls.length - 1];
      last.answer = ctx.status === 200 ? 'tokens' : String((ctx.body && ctx.body.error) || ctx.status);
    }
  });

  const callback = provider.callback();
  server.on('request', async (req, res) => {
    try {
      if (req.url.startsWith('/__harness/device-polls?')) {
        const q = new URL(req.url, issuer).searchParams;
        const s = devices.find(q.get('user_code'));
        return sendJson(res, s ? 200 : 404, { polls: s ? s.polls : [] });
      }
      if (mount && req.url !== mount && !req.url.startsWith(`${mount}/`) && !req.url.startsWith(`${mount}?`)) {
        res.statusCode = 404;
        return res.end();
      }
      req.url = forceConsent(req.url.slice(mount.length) || '/');
      req.originalUrl = mount + req.url;
      if (req.method === 'POST' && req.url === '/token') {
        // Read the form here to see device code polls; oidc-provider then takes the body from
        // req.body (its parser's documented fallback for an already read body).
        const raw = await readBody(req);
        const form = new URLSearchParams(raw);
        if (form.get('grant_type') === DEVICE_GRANT) {
          const { state, answer } = devices.poll(form.get('device_code'));
          if (answer) {
            return sendJson(res, 400, {
              error: 'slow_down',
              error_description: 'polling too quickly: wait 5 more seconds between polls (RFC 8628 section 3.5)',
            });
          }
          req.devicePoll = state;
        }
        req.body = raw;
      }
      return callback(req, res);
    } catch (err) {
      console.error('harness handler', err);
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
      else res.end();
    }
  });
  return issuer;
}

const issuers = [];
for (const mount of config.mounts) {
  issuers.push(await start(mount));
}
process.stdout.write(`${JSON.stringify({ issuers })}\n`);
