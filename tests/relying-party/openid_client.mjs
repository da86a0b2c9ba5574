// openid-client (panva), unmodified, as a relying party of enlist: it
// discovers the provider, runs the code flow with PKCE and a nonce,
// validates the ID token, calls userinfo and signs out through the
// end_session_endpoint. The person's part (the sign-in page) is played by
// plain fetch calls with a cookie jar. Prints what it saw as one JSON line;
// tests/api/relying_parties.rs asserts on it.
//
// usage: node openid_client.mjs '{"issuer": …, "clientId": …, "redirectUri": …,
//                                 "postLogoutRedirectUri": …, "email": …, "password": …}'
import * as client from 'openid-client';

const args = JSON.parse(process.argv[2]);
const cookies = new Map();

function keepCookies(response) {
  for (const line of response.headers.getSetCookie()) {
    const [pair, ...attributes] = line.split(';');
    const [name, value] = pair.split('=', 2);
    if (attributes.some((a) => a.trim().toLowerCase() === 'max-age=0')) cookies.delete(name.trim());
    else cookies.set(name.trim(), value);
  }
}

async function browse(url, init = {}) {
  const headers = { ...(init.headers ?? {}) };
  if (cookies.size) headers.cookie = [...cookies].map(([n, v]) => `${n}=${v}`).join('; ');
  const response = await fetch(url, { ...init, headers, redirect: 'manual' });
  keepCookies(response);
  return response;
}

function unescape(text) {
  return text.replaceAll('&quot;', '"').replaceAll('&#x27;', "'").replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
}

// The hidden fields of the sign-in form (the one with intent=signin).
function signInFields(html) {
  const form = html.split('<form').find((f) => f.includes('name="intent" value="signin"'));
  if (!form) throw new Error(`no sign-in form in the page: ${html.slice(0, 300)}`);
  const fields = new URLSearchParams();
  for (const match of form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields.append(match[1], unescape(match[2]));
  }
  return fields;
}

const config = await client.discovery(
  new URL(args.issuer),
  args.clientId,
  undefined,
  client.None(),
  // enlist runs on loopback http in the test; the library asks for this to allow it.
  { execute: [client.allowInsecureRequests] },
);

const codeVerifier = client.randomPKCECodeVerifier();
const nonce = client.randomNonce();
const state = client.randomState();
const authorizationUrl = client.buildAuthorizationUrl(config, {
  redirect_uri: args.redirectUri,
  scope: 'openid email profile invitations',
  code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
  code_challenge_method: 'S256',
  nonce,
  state,
});

// The person signs in on enlist's page.
const page = await browse(authorizationUrl);
if (page.status !== 200) throw new Error(`authorize page answered ${page.status}`);
const fields = signInFields(await page.text());
fields.set('email', args.email);
fields.set('password', args.password);
const signedIn = await browse(new URL('/oauth/authorize', args.issuer), {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: fields.toString(),
});
const callback = signedIn.headers.get('location');
if (signedIn.status !== 303 || !callback?.startsWith(args.redirectUri)) {
  throw new Error(`sign-in answered ${signedIn.status} to ${callback}`);
}

// The library takes over: the code, the tokens, the ID token's checks.
const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
  pkceCodeVerifier: codeVerifier,
  expectedNonce: nonce,
  expectedState: state,
  idTokenExpected: true,
});
const claims = tokens.claims();
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);

// A second request in the same browser: single sign-on, no page.
const silent = await browse(client.buildAuthorizationUrl(config, {
  redirect_uri: args.redirectUri,
  scope: 'openid',
  code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
  code_challenge_method: 'S256',
  prompt: 'none',
  state: client.randomState(),
}));
const silentTarget = new URL(silent.headers.get('location'));

// Logout through the end_session_endpoint, then prompt=none finds no session.
const logoutState = client.randomState();
const signedOut = await browse(client.buildEndSessionUrl(config, {
  id_token_hint: tokens.id_token,
  post_logout_redirect_uri: args.postLogoutRedirectUri,
  state: logoutState,
}));
const afterLogout = await browse(client.buildAuthorizationUrl(config, {
  redirect_uri: args.redirectUri,
  scope: 'openid',
  code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
  code_challenge_method: 'S256',
  prompt: 'none',
  state: client.randomState(),
}));

console.log(JSON.stringify({
  idTokenClaims: claims,
  userinfo,
  scope: tokens.scope,
  silentSignOn: { code: silentTarget.searchParams.has('code'), error: silentTarget.searchParams.get('error') },
  logout: {
    status: signedOut.status,
    location: signedOut.headers.get('location'),
    expectedLocation: `${args.postLogoutRedirectUri}?state=${logoutState}`,
  },
  afterLogout: new URL(afterLogout.headers.get('location')).searchParams.get('error'),
}));
