// A real OpenID provider for enlist's tests: the certified `oidc-provider`
// package, configured with static clients and test accounts, on a loopback
// port. See README.md for what it offers; tests/support/oidc_provider.rs
// starts it.
//
//   node server.mjs [--port N] [--ignore-stdin]
//
// Prints exactly one line on stdout once it accepts connections:
//   listening on http://127.0.0.1:PORT
// and nothing else there (its logs go to stderr). It exits when its stdin
// closes (the test process that holds the other end is gone) or when its
// parent process dies, unless --ignore-stdin is given (then only the latter).

import * as crypto from 'node:crypto';
import * as http from 'node:http';
import process from 'node:process';

import Provider, { errors } from 'oidc-provider';

// ---------------------------------------------------------------------------
// Command line and lifetime

function option(name) {
  const at = process.argv.indexOf(name);
  return at === -1 ? undefined : process.argv[at + 1];
}

const requestedPort = Number(option('--port') ?? process.env.PORT ?? 0);
if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
  console.error(`server.mjs: not a port: ${option('--port') ?? process.env.PORT}`);
  process.exit(2);
}

function bye(why) {
  console.error(`oidc test provider: exiting (${why})`);
  process.exit(0);
}

// Whoever started us holds our stdin: when it closes (the test process
// exited, crashed or was killed), so do we.
if (!process.argv.includes('--ignore-stdin')) {
  process.stdin.on('end', () => bye('stdin closed'));
  process.stdin.on('close', () => bye('stdin closed'));
  process.stdin.on('error', () => bye('stdin failed'));
  process.stdin.resume();
}
// And if the parent dies without closing our stdin (it was inherited by
// someone else), we are re-parented: notice that too.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) bye('parent process gone');
}, 500).unref();
process.on('SIGTERM', () => bye('SIGTERM'));
process.on('SIGINT', () => bye('SIGINT'));

// ---------------------------------------------------------------------------
// Accounts

// The fixed accounts; any other login is an account of its own (below).
const FIXED_ACCOUNTS = new Map(Object.entries({
  alice: {
    email: 'alice@example.test', email_verified: true, given_name: 'Alice', family_name: 'Liddell',
  },
  bob: {
    email: 'bob@example.test', email_verified: false, given_name: 'Bob', family_name: 'Builder',
  },
  carol: {
    email: 'carol@example.test', email_verified: true, given_name: 'Carol', family_name: 'Danvers',
  },
}));

// What the control endpoint (PUT /_test/accounts/:sub) set, by sub.
const changedAccounts = new Map();

// An account's stored claims (without sub, and without name unless set).
function storedAccount(sub) {
  return changedAccounts.get(sub) ?? FIXED_ACCOUNTS.get(sub) ?? {
    email: `${sub}@example.test`,
    email_verified: true,
    given_name: sub.charAt(0).toUpperCase() + sub.slice(1),
    family_name: 'Example',
  };
}

// An account's claims: name is given_name family_name unless set.
function account(sub) {
  const stored = storedAccount(sub);
  const name = stored.name ?? [stored.given_name, stored.family_name].filter(Boolean).join(' ');
  return { sub, ...stored, name };
}

// ---------------------------------------------------------------------------
// Clients

const ENLIST_CLIENT_ID = process.env.ENLIST_CLIENT_ID || 'enlist';
const ENLIST_CLIENT_SECRET = process.env.ENLIST_CLIENT_SECRET || 'enlist-secret';

// Redirect URIs are checked against these patterns, on any loopback port
// (see redirectUriAllowed below). The registered redirect_uris are examples
// of them.
const REDIRECT_PATHS = new Map([
  [ENLIST_CLIENT_ID, /^\/auth\/oidc\/[a-z0-9-]{1,32}\/callback$/],
  [`${ENLIST_CLIENT_ID}-post`, /^\/auth\/oidc\/[a-z0-9-]{1,32}\/callback$/],
  ['app', /^\/app\/callback$/],
]);
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

const clients = [
  {
    // The relying party under test: a confidential web client.
    client_id: ENLIST_CLIENT_ID,
    client_secret: ENLIST_CLIENT_SECRET,
    client_name: 'enlist',
    application_type: 'web',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: ['http://127.0.0.1/auth/oidc/local/callback'],
  },
  {
    // The same, authenticating at the token endpoint with client_secret_post
    // (a client has one token_endpoint_auth_method).
    client_id: `${ENLIST_CLIENT_ID}-post`,
    client_secret: ENLIST_CLIENT_SECRET,
    client_name: 'enlist (client_secret_post)',
    application_type: 'web',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
    redirect_uris: ['http://127.0.0.1/auth/oidc/local/callback'],
  },
  {
    // A public client the tests use to get access tokens for a resource
    // (enlist as a resource server trusting this issuer).
    client_id: 'app',
    client_name: 'app',
    application_type: 'web',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    redirect_uris: ['http://127.0.0.1/app/callback'],
  },
];

// ---------------------------------------------------------------------------
// Keys: fresh for every run, never written anywhere.

// The key comes out of the generator as a JWK: exporting the KeyObject a
// synchronous generation returns can deadlock Node.js 20 (a garbage
// collection during the export frees the finished generation job, which
// takes the lock the export holds; seen about once in a hundred starts).
function signingKey(alg, type, options) {
  const { privateKey: jwk } = crypto.generateKeyPairSync(type, {
    ...options,
    privateKeyEncoding: { format: 'jwk' },
    publicKeyEncoding: { format: 'jwk' },
  });
  return { ...jwk, alg, use: 'sig', kid: `${alg.toLowerCase()}-${crypto.randomBytes(6).toString('hex')}` };
}

const jwks = {
  keys: [
    // The first key of an algorithm signs; RS256 is every client's default.
    signingKey('RS256', 'rsa', { modulusLength: 2048 }),
    signingKey('ES256', 'ec', { namedCurve: 'P-256' }),
  ],
};

// ---------------------------------------------------------------------------
// The resource servers: any absolute URI is a resource indicator (RFC 8707),
// and gets RS256-signed JWT access tokens (RFC 9068) whose aud is itself.

const RESOURCE_SCOPE = 'api';

function isAbsoluteUri(value) {
  const parsed = URL.parse(value);
  return parsed !== null && parsed.hash === '' && /^[a-z][a-z0-9+.-]*:$/.test(parsed.protocol);
}

// ---------------------------------------------------------------------------
// The provider

const ONE_HOUR = 60 * 60;

function configuration(issuerPort) {
  // Cookie names carry the port: cookies are per host, not per port, so two
  // providers on 127.0.0.1 (or the provider and enlist) would share a
  // browser's cookies under the same names.
  const cookiePrefix = `_op${issuerPort}`;
  return {
    clients,
    jwks,
    cookies: {
      keys: [crypto.randomBytes(32).toString('base64url')],
      names: {
        session: `${cookiePrefix}_session`,
        interaction: `${cookiePrefix}_interaction`,
        resume: `${cookiePrefix}_interaction_resume`,
      },
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name'],
    },
    // Claims the scopes ask for go into the ID token even when an access
    // token for userinfo is issued too, as most real providers do.
    conformIdTokenClaims: false,
    async findAccount(ctx, id) {
      if (typeof id !== 'string' || id === '') return undefined;
      return {
        accountId: id,
        async claims() {
          return account(id);
        },
      };
    },
    // JWT access tokens for a resource carry the account's email.
    async extraTokenClaims(ctx, token) {
      if (token.kind !== 'AccessToken' || !token.resourceServer || !token.accountId) {
        return undefined;
      }
      const { email, email_verified } = account(token.accountId);
      return { email, email_verified };
    },
    // Both clients are first-party: whatever they ask for is granted without
    // a consent screen (the loadExistingGrant recipe), so a sign-in is the
    // login form alone. An explicit prompt=consent still shows the consent
    // page, as the package's own.
    async loadExistingGrant(ctx) {
      const { oidc } = ctx;
      const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
      let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
      if (grant && grant.accountId !== oidc.session.accountId) grant = undefined;
      grant ??= new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
      if (oidc.requestParamOIDCScopes.size) {
        grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
      }
      if (oidc.requestParamClaims.size) {
        grant.addOIDCClaims([...oidc.requestParamClaims]);
      }
      for (const [indicator, server] of Object.entries(oidc.resourceServers ?? {})) {
        if (server.scope) grant.addResourceScope(indicator, server.scope);
      }
      await grant.save();
      return grant;
    },
    // PKCE (S256) for every client, confidential ones too (RFC 9700 2.1.1).
    pkce: { required: () => true },
    ttl: {
      AccessToken: ONE_HOUR,
      IdToken: ONE_HOUR,
      AuthorizationCode: 60,
      RefreshToken: 24 * ONE_HOUR,
      Interaction: ONE_HOUR,
      Session: 24 * ONE_HOUR,
      Grant: 24 * ONE_HOUR,
    },
    features: {
      // The package's own login page (any login, any password) and consent page.
      devInteractions: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // The token request may leave out the resource the code was issued for.
        useGrantedResource: () => true,
        async getResourceServerInfo(ctx, resourceIndicator) {
          if (!isAbsoluteUri(resourceIndicator)) {
            throw new errors.InvalidTarget('resource indicators must be absolute URIs, like urn:enlist:api');
          }
          return {
            scope: RESOURCE_SCOPE,
            audience: resourceIndicator,
            accessTokenTTL: ONE_HOUR,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
      revocation: { enabled: true },
      introspection: { enabled: true },
    },
    // Errors as plain pages, without the package's advice to customize them.
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>oops! something went wrong</title></head>`
        + `<body><h1>oops! something went wrong</h1><pre>${
          Object.entries(out).map(([k, v]) => `${k}: ${String(v).replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`)}`).join('\n')
        }</pre></body></html>`;
    },
  };
}

// Loopback redirect URIs on any port (RFC 8252 section 7.3), with any
// provider id in enlist's callback path. oidc-provider only relaxes the port
// for application_type "native" clients, and a native client always gets a
// consent prompt; and no client type matches a path pattern. So this is the
// package's redirect-uri recipe: override Client#redirectUriAllowed, for the
// clients above only.
function allowLoopbackRedirects(provider) {
  const registered = provider.Client.prototype.redirectUriAllowed;
  provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(value) {
    const path = REDIRECT_PATHS.get(this.clientId);
    if (!path) return registered.call(this, value);
    const url = URL.parse(value);
    return url !== null
      && url.href === value
      && url.protocol === 'http:'
      && LOOPBACK_HOSTS.has(url.hostname)
      && url.username === '' && url.password === ''
      && url.search === '' && url.hash === ''
      && path.test(url.pathname);
  };
}

function logEvents(provider) {
  for (const event of ['server_error', 'authorization.error', 'grant.error', 'end_session.error',
    'userinfo.error', 'introspection.error', 'revocation.error']) {
    provider.on(event, (ctx, error) => {
      console.error(`oidc test provider: ${event}: ${error?.message ?? ctx?.message}${
        error?.error_description ? ` (${error.error_description})` : ''}`);
    });
  }
}

// ---------------------------------------------------------------------------
// The fixture's own control endpoint (not OpenID Connect): /_test/...
//
//   GET    /_test/accounts/:sub   the account's claims
//   PUT    /_test/accounts/:sub   JSON {email, email_verified, given_name,
//                                 family_name, name}: any of them, merged
//                                 into the account (created if new)
//   DELETE /_test/accounts/:sub   back to what it was at start

function readJson(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > 64 * 1024) reject(new Error('body too large'));
    });
    req.on('end', () => {
      try {
        resolve(body === '' ? {} : JSON.parse(body));
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', reject);
  });
}

function answer(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(value));
}

const ACCOUNT_FIELDS = {
  email: 'string', email_verified: 'boolean', given_name: 'string', family_name: 'string', name: 'string',
};

async function control(req, res) {
  const remote = req.socket.remoteAddress ?? '';
  if (!(remote.startsWith('127.') || remote === '::1' || remote.startsWith('::ffff:127.'))) {
    answer(res, 403, { error: 'loopback only' });
    return;
  }
  const url = new URL(req.url, 'http://127.0.0.1');
  const match = /^\/_test\/accounts\/([^/]+)$/.exec(url.pathname);
  if (!match) {
    answer(res, 404, { error: 'no such control endpoint' });
    return;
  }
  const sub = decodeURIComponent(match[1]);
  switch (req.method) {
    case 'GET':
      answer(res, 200, account(sub));
      return;
    case 'DELETE':
      changedAccounts.delete(sub);
      answer(res, 200, account(sub));
      return;
    case 'PUT': {
      let body;
      try {
        body = await readJson(req);
      } catch (error) {
        answer(res, 400, { error: `not JSON: ${error.message}` });
        return;
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        answer(res, 400, { error: 'a JSON object is expected' });
        return;
      }
      const next = { ...storedAccount(sub) };
      for (const [field, value] of Object.entries(body)) {
        if (!(field in ACCOUNT_FIELDS)) {
          answer(res, 400, { error: `unknown field ${field}` });
          return;
        }
        if (value === null) {
          delete next[field];
        } else if (typeof value !== ACCOUNT_FIELDS[field]) {
          answer(res, 400, { error: `${field} must be a ${ACCOUNT_FIELDS[field]}` });
          return;
        } else {
          next[field] = value;
        }
      }
      changedAccounts.set(sub, next);
      answer(res, 200, account(sub));
      return;
    }
    default:
      answer(res, 405, { error: 'GET, PUT or DELETE' });
  }
}

// ---------------------------------------------------------------------------
// Start: bind first (port 0 picks one), then build the provider whose issuer
// is that address.

let handler = (req, res) => {
  res.writeHead(503);
  res.end();
};
const server = http.createServer((req, res) => {
  if (req.url === '/_test' || req.url.startsWith('/_test/')) {
    control(req, res).catch((error) => {
      console.error(`oidc test provider: control: ${error.stack}`);
      if (!res.headersSent) answer(res, 500, { error: error.message });
    });
    return;
  }
  handler(req, res);
});

server.on('error', (error) => {
  console.error(`oidc test provider: ${error.message}`);
  process.exit(1);
});

server.listen(requestedPort, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, configuration(port));
  allowLoopbackRedirects(provider);
  logEvents(provider);
  handler = provider.callback();
  process.stdout.write(`listening on ${issuer}\n`);
});
