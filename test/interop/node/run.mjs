// The Node.js libraries' rows of authserver's interop suite (test/interop).
// Line protocol on stdin/stdout: the job as the first JSON line; one JSON
// line per row result; {"done":"before"}; then {"phase":"after","token"}
// for the rows that follow a key rotation, answered by {"done":"after"}.
//
// Every client runs on what it uses by default: openid-client and
// oauth4webapi on Node's built-in fetch (nothing replaces or strips its
// headers), simple-oauth2 on @hapi/wreck, jwks-rsa and
// express-oauth2-jwt-bearer on node:http. allowInsecureRequests is the
// libraries' documented switch for plain http, which the suite's loopback
// issuer uses.

import { createPrivateKey, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import readline from 'node:readline';

import express from 'express';
import { auth as bearerAuth } from 'express-oauth2-jwt-bearer';
import * as jose from 'jose';
import jsonwebtoken from 'jsonwebtoken';
import jwksRsa from 'jwks-rsa';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import simpleOAuth2 from 'simple-oauth2';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const DELEGATED = 'urn:authserver:params:oauth:grant-type:delegated';
const ROW_TIMEOUT_MS = 30_000;

const pkg = async (name) =>
  JSON.parse(await readFile(new URL(`./node_modules/${name}/package.json`, import.meta.url), 'utf8')).version;

const emit = (v) => process.stdout.write(JSON.stringify(v) + '\n');

// describe flattens an error and its causes into one line: the libraries
// put the server's error and error_description on fields and causes, not
// always in the message.
function describe(err, depth = 0) {
  if (err === undefined || err === null) return String(err);
  if (typeof err !== 'object') return String(err);
  const parts = [`${err.name || 'Error'}: ${err.message}`];
  for (const k of ['code', 'status', 'error', 'error_description']) {
    if (err[k] !== undefined && typeof err[k] !== 'object') parts.push(`${k}=${err[k]}`);
  }
  if (err.cause !== undefined && depth < 3) {
    if (err.cause instanceof Error) {
      parts.push(`cause: ${describe(err.cause, depth + 1)}`);
    } else if (typeof err.cause === 'object') {
      const c = err.cause;
      if (c instanceof Response) {
        parts.push(`cause: HTTP ${c.status}`);
      } else {
        try {
          parts.push(`cause: ${JSON.stringify(c)}`);
        } catch {
          parts.push('cause: (unprintable)');
        }
      }
    }
  }
  return parts.join('; ');
}

function payload(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

function must(cond, message) {
  if (!cond) throw new Error(message);
}

// privateKey imports the app's private JWK for a private_key_jwt scenario
// (RS256, ES256, Ed25519) as a CryptoKey with its kid.
async function privateKey(job, name) {
  const jwk = job.keys[name];
  return { key: await jose.importJWK(jwk, name), kid: jwk.kid };
}

// exchange posts a user assertion to /customer_authenticate on Node's
// fetch.
async function exchange(job, assertion) {
  const res = await fetch(job.customer_authenticate_endpoint, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: JWT_BEARER, assertion }),
  });
  const text = await res.text();
  must(res.status === 200, `HTTP ${res.status}: ${text}`);
  return { token: JSON.parse(text).access_token };
}

// joseAssertion is the secure-mode user assertion, signed with jose.
async function joseAssertion(job) {
  const key = await jose.importJWK(job.secure_mode_key, job.secure_mode_alg);
  return new jose.SignJWT({})
    .setProtectedHeader({ alg: job.secure_mode_alg, kid: job.secure_mode_key.kid })
    .setIssuer(job.client_id)
    .setSubject(job.customer_id)
    .setAudience(job.issuer)
    .setIssuedAt()
    .setExpirationTime('5m')
    .setJti(randomUUID())
    .sign(key);
}

async function checkProfile(res, token) {
  const text = await res.text();
  must(res.status === 200, `getprofile: HTTP ${res.status}: ${text}`);
  const profile = JSON.parse(text);
  must(profile.customer === payload(token).sub, `getprofile answered ${text}`);
}

// --- openid-client ---------------------------------------------------------

const insecure = { execute: [client.allowInsecureRequests] };

// oidcConfig discovers the server by RFC 8414 (algorithm 'oauth2').
function oidcConfig(job, auth) {
  return client.discovery(new URL(job.issuer), job.client_id, {}, auth, { ...insecure, algorithm: 'oauth2' });
}

// oidcCustomerConfig is a Configuration whose token endpoint is
// /customer_authenticate: the end-user grants go there.
async function oidcCustomerConfig(job, auth, clientId = job.client_id) {
  const md = (await oidcConfig(job, auth)).serverMetadata();
  const ca = new client.Configuration({ ...md, token_endpoint: md.customer_authenticate_endpoint }, clientId, {}, auth);
  client.allowInsecureRequests(ca);
  return ca;
}

async function oidcToken(job, auth) {
  const tokens = await client.clientCredentialsGrant(await oidcConfig(job, auth), { scope: job.scope });
  return { token: tokens.access_token };
}

const openidClient = {
  async discovery(job) {
    const md = (await oidcConfig(job, client.ClientSecretBasic(job.client_secret))).serverMetadata();
    must(md.issuer === job.issuer && md.token_endpoint === job.token_endpoint, `metadata names ${md.issuer}, ${md.token_endpoint}`);
    return {};
  },
  async 'discovery-oidc'(job) {
    const cfg = await client.discovery(new URL(job.issuer), job.client_id, job.client_secret, undefined, insecure);
    must(cfg.serverMetadata().token_endpoint === job.token_endpoint, 'wrong token_endpoint');
    return {};
  },
  'cc-basic': (job) => oidcToken(job, client.ClientSecretBasic(job.client_secret)),
  'cc-post': (job) => oidcToken(job, client.ClientSecretPost(job.client_secret)),
  'cc-pkjwt-RS256': async (job) => oidcToken(job, client.PrivateKeyJwt(await privateKey(job, 'RS256'))),
  'cc-pkjwt-ES256': async (job) => oidcToken(job, client.PrivateKeyJwt(await privateKey(job, 'ES256'))),
  'cc-pkjwt-Ed25519': async (job) => oidcToken(job, client.PrivateKeyJwt(await privateKey(job, 'Ed25519'))),
  'cc-csjwt': (job) => oidcToken(job, client.ClientSecretJwt(job.client_secret)),
  async introspect(job) {
    const cfg = await oidcConfig(job, client.ClientSecretBasic(job.client_secret));
    const { access_token } = await client.clientCredentialsGrant(cfg, { scope: job.scope });
    const r = await client.tokenIntrospection(cfg, access_token);
    must(r.active === true && r.client_id === job.client_id, `introspection: ${JSON.stringify(r)}`);
    return {};
  },
  async revoke(job) {
    const cfg = await oidcConfig(job, client.ClientSecretBasic(job.client_secret));
    const { access_token } = await client.clientCredentialsGrant(cfg, { scope: job.scope });
    await client.tokenRevocation(cfg, access_token);
    const r = await client.tokenIntrospection(cfg, access_token);
    must(r.active === false, `a revoked token introspects as ${JSON.stringify(r)}`);
    return {};
  },
  async 'delegated-getprofile'(job) {
    const ca = await oidcCustomerConfig(job, client.ClientSecretBasic(job.client_secret));
    const t = await client.genericGrantRequest(ca, DELEGATED, { customer_id: job.customer_id });
    const res = await client.fetchProtectedResource(ca, t.access_token, new URL(job.getprofile_endpoint), 'POST', undefined,
      new Headers({ 'X-API-Key': job.client_id }));
    await checkProfile(res, t.access_token);
    return { token: t.access_token };
  },
  async 'secure-mode'(job) {
    const ca = await oidcCustomerConfig(job, client.None());
    const t = await client.genericGrantRequest(ca, JWT_BEARER, { assertion: await joseAssertion(job) });
    return { token: t.access_token };
  },
};

// --- DPoP (RFC 9449) with openid-client ------------------------------------
// A DPoP handle (getDPoPHandle) on a key pair of the client's
// (randomDPoPKeyPair, ES256) binds the tokens the grants obtain and signs
// a fresh proof for every request, answering use_dpop_nonce by itself.
// The refusal rows make the library send what a thief or a broken client
// would: the token without its handle, a handle of another key, a proof
// sent twice (captured with customFetch), and proofs the library is made
// to sign for another htu or htm or 5 minutes ago (modifyAssertion).

// jktOf is the RFC 7638 thumbprint of a key pair's public key, computed
// with jose, apart from the library under test.
async function jktOf(keyPair) {
  return jose.calculateJwkThumbprint(await jose.exportJWK(keyPair.publicKey));
}

// countRequests makes cfg count its requests by path.
function countRequests(cfg) {
  const counts = {};
  cfg[client.customFetch] = (url, options) => {
    const path = new URL(url).pathname;
    counts[path] = (counts[path] || 0) + 1;
    return fetch(url, options);
  };
  return counts;
}

// oidcBound gets a bound appUser token by the delegated login with a DPoP
// handle of a fresh key pair, for the app clientId.
async function oidcBound(job, clientId = job.client_id, secret = job.client_secret) {
  const ca = await oidcCustomerConfig(job, client.ClientSecretBasic(secret), clientId);
  const keyPair = await client.randomDPoPKeyPair();
  const DPoP = client.getDPoPHandle(ca, keyPair);
  const t = await client.genericGrantRequest(ca, DELEGATED, { customer_id: job.customer_id }, { DPoP });
  must(t.token_type === 'dpop', `token_type ${t.token_type}, want DPoP`);
  return { ca, keyPair, DPoP, token: t.access_token, jkt: await jktOf(keyPair) };
}

// oidcProfile calls /getprofile with the bound token and options' handle
// (none: as a bearer token).
function oidcProfile(job, b, options) {
  return client.fetchProtectedResource(b.ca, b.token, new URL(job.getprofile_endpoint), 'POST', undefined,
    new Headers({ 'X-API-Key': b.ca.clientMetadata().client_id }), options);
}

// refused expects /getprofile to refuse with 401 and a challenge of
// scheme whose error is code; the library throws on such an answer, or
// returns it.
async function refused(call, scheme, code) {
  let status; let challenges;
  try {
    const res = await call();
    status = res.status;
    challenges = res.headers.get('www-authenticate');
  } catch (err) {
    if (!(err instanceof client.WWWAuthenticateChallengeError)) throw err;
    status = err.status;
    challenges = err.cause;
  }
  must(status === 401, `answered ${status}, want 401`);
  if (Array.isArray(challenges)) {
    const c = challenges.find((x) => x.scheme === scheme.toLowerCase());
    must(c && c.parameters.error === code, `challenges ${JSON.stringify(challenges)}, want ${scheme} error=${code}`);
    return { detail: `401, ${scheme} error="${code}": ${c.parameters.error_description}` };
  }
  must(typeof challenges === 'string' && challenges.startsWith(scheme) && challenges.includes(`error="${code}"`),
    `WWW-Authenticate ${challenges}, want ${scheme} error="${code}"`);
  return { detail: `401, ${challenges}` };
}

// withProof runs a refusal row: a bound token, one good call (the
// control), then the bad one, which must be refused with code.
async function withProof(job, bad, code, scheme = 'DPoP') {
  const b = await oidcBound(job);
  const ok = await oidcProfile(job, b, { DPoP: b.DPoP });
  await checkProfile(ok, b.token);
  return refused(() => bad(b), scheme, code);
}

// skewed is a handle on b's key whose proofs modify changes before they
// are signed.
const skewed = (b, modify) => client.getDPoPHandle(b.ca, b.keyPair, { [client.modifyAssertion]: (_h, payload) => modify(payload) });

const openidClientDPoP = {
  async 'dpop-cc'(job) {
    const cfg = await oidcConfig(job, client.ClientSecretBasic(job.client_secret));
    const keyPair = await client.randomDPoPKeyPair();
    const t = await client.clientCredentialsGrant(cfg, { scope: job.scope }, { DPoP: client.getDPoPHandle(cfg, keyPair) });
    must(t.token_type === 'dpop', `token_type ${t.token_type}, want DPoP`);
    return { token: t.access_token, jkt: await jktOf(keyPair) };
  },
  async 'dpop-getprofile'(job) {
    const b = await oidcBound(job);
    await checkProfile(await oidcProfile(job, b, { DPoP: b.DPoP }), b.token);
    return { token: b.token, jkt: b.jkt };
  },
  async 'dpop-nonce'(job) {
    const ca = await oidcCustomerConfig(job, client.ClientSecretBasic(job.nonce_client_secret), job.nonce_client_id);
    const counts = countRequests(ca);
    const keyPair = await client.randomDPoPKeyPair();
    const DPoP = client.getDPoPHandle(ca, keyPair);
    const t = await client.genericGrantRequest(ca, DELEGATED, { customer_id: job.customer_id }, { DPoP });
    must(t.token_type === 'dpop', `token_type ${t.token_type}, want DPoP`);
    const b = { ca, token: t.access_token };
    await checkProfile(await oidcProfile(job, b, { DPoP }), b.token);
    const ta = counts['/customer_authenticate']; const gp = counts['/getprofile'];
    // One nonce per origin: the one /customer_authenticate gave serves
    // at /getprofile, with no second use_dpop_nonce.
    must(ta === 2 && gp === 1, `requests: ${JSON.stringify(counts)}; want use_dpop_nonce answered once at /customer_authenticate and the nonce kept for /getprofile`);
    return { token: t.access_token, jkt: await jktOf(keyPair), detail: `use_dpop_nonce answered at /customer_authenticate, its nonce kept for /getprofile (${ta} and ${gp} requests)` };
  },
  'dpop-refused-bearer': (job) => withProof(job, (b) => oidcProfile(job, b, undefined), 'invalid_token'),
  'dpop-refused-other-key': (job) => withProof(job, async (b) => oidcProfile(job, b, { DPoP: client.getDPoPHandle(b.ca, await client.randomDPoPKeyPair()) }), 'invalid_token'),
  'dpop-refused-replay': (job) => withProof(job, async (b) => {
    let sent;
    b.ca[client.customFetch] = (url, options) => { sent = { url, options }; return fetch(url, options); };
    await checkProfile(await oidcProfile(job, b, { DPoP: b.DPoP }), b.token);
    delete b.ca[client.customFetch];
    return fetch(sent.url, { method: sent.options.method, headers: sent.options.headers, body: sent.options.body });
  }, 'invalid_dpop_proof'),
  'dpop-refused-htu': (job) => withProof(job, (b) => oidcProfile(job, b, { DPoP: skewed(b, (p) => { p.htu = `${job.issuer}/oauth2/introspect`; }) }), 'invalid_dpop_proof'),
  'dpop-refused-htm': (job) => withProof(job, (b) => oidcProfile(job, b, { DPoP: skewed(b, (p) => { p.htm = 'GET'; }) }), 'invalid_dpop_proof'),
  'dpop-refused-stale': (job) => withProof(job, (b) => oidcProfile(job, b, { DPoP: skewed(b, (p) => { p.iat -= 300; }) }), 'invalid_dpop_proof'),
};
Object.assign(openidClient, openidClientDPoP);

// --- oauth4webapi ----------------------------------------------------------

const o4 = { [oauth.allowInsecureRequests]: true };

async function o4server(job, algorithm = 'oauth2') {
  const issuer = new URL(job.issuer);
  return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...o4, algorithm }));
}

async function o4token(job, auth, as) {
  as ??= await o4server(job);
  const c = { client_id: job.client_id };
  const res = await oauth.clientCredentialsGrantRequest(as, c, auth, { scope: job.scope }, o4);
  return { token: (await oauth.processClientCredentialsResponse(as, c, res)).access_token };
}

async function o4introspect(job, as, token) {
  const c = { client_id: job.client_id };
  const res = await oauth.introspectionRequest(as, c, oauth.ClientSecretBasic(job.client_secret), token, o4);
  return oauth.processIntrospectionResponse(as, c, res);
}

async function o4customer(job, auth, grantType, params) {
  const as = await o4server(job);
  const ca = { ...as, token_endpoint: as.customer_authenticate_endpoint };
  const c = { client_id: job.client_id };
  const res = await oauth.genericTokenEndpointRequest(ca, c, auth, grantType, params, o4);
  return oauth.processGenericTokenEndpointResponse(ca, c, res);
}

const oauth4webapi = {
  async discovery(job) {
    const as = await o4server(job);
    must(as.token_endpoint === job.token_endpoint, `metadata names ${as.token_endpoint}`);
    return {};
  },
  async 'discovery-oidc'(job) {
    const as = await o4server(job, 'oidc');
    must(as.token_endpoint === job.token_endpoint, `metadata names ${as.token_endpoint}`);
    return {};
  },
  'cc-basic': (job) => o4token(job, oauth.ClientSecretBasic(job.client_secret)),
  'cc-post': (job) => o4token(job, oauth.ClientSecretPost(job.client_secret)),
  'cc-pkjwt-RS256': async (job) => o4token(job, oauth.PrivateKeyJwt(await privateKey(job, 'RS256'))),
  'cc-pkjwt-ES256': async (job) => o4token(job, oauth.PrivateKeyJwt(await privateKey(job, 'ES256'))),
  'cc-pkjwt-Ed25519': async (job) => o4token(job, oauth.PrivateKeyJwt(await privateKey(job, 'Ed25519'))),
  'cc-csjwt': (job) => o4token(job, oauth.ClientSecretJwt(job.client_secret)),
  async introspect(job) {
    const as = await o4server(job);
    const { token } = await o4token(job, oauth.ClientSecretBasic(job.client_secret), as);
    const r = await o4introspect(job, as, token);
    must(r.active === true && r.client_id === job.client_id, `introspection: ${JSON.stringify(r)}`);
    return {};
  },
  async revoke(job) {
    const as = await o4server(job);
    const { token } = await o4token(job, oauth.ClientSecretBasic(job.client_secret), as);
    const c = { client_id: job.client_id };
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, c, oauth.ClientSecretBasic(job.client_secret), token, o4));
    const r = await o4introspect(job, as, token);
    must(r.active === false, `a revoked token introspects as ${JSON.stringify(r)}`);
    return {};
  },
  async 'delegated-getprofile'(job) {
    const t = await o4customer(job, oauth.ClientSecretBasic(job.client_secret), DELEGATED, { customer_id: job.customer_id });
    const res = await oauth.protectedResourceRequest(t.access_token, 'POST', new URL(job.getprofile_endpoint),
      new Headers({ 'X-API-Key': job.client_id }), null, o4);
    await checkProfile(res, t.access_token);
    return { token: t.access_token };
  },
  async 'secure-mode'(job) {
    const t = await o4customer(job, oauth.None(), JWT_BEARER, { assertion: await joseAssertion(job) });
    return { token: t.access_token };
  },
};

// oauth4webapi's DPoP: a handle (oauth.DPoP) on each request; the caller
// retries a use_dpop_nonce answer itself, as its documentation shows
// (isDPoPNonceError), the handle having kept the nonce.
async function o4retry(f) {
  try {
    return await f();
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err;
    return f();
  }
}

async function o4bound(job, clientId, secret) {
  const as = await o4server(job);
  const ca = { ...as, token_endpoint: as.customer_authenticate_endpoint };
  const c = { client_id: clientId };
  const keyPair = await oauth.generateKeyPair('ES256');
  const DPoP = oauth.DPoP(c, keyPair);
  const t = await o4retry(async () => oauth.processGenericTokenEndpointResponse(ca, c,
    await oauth.genericTokenEndpointRequest(ca, c, oauth.ClientSecretBasic(secret), DELEGATED, { customer_id: job.customer_id }, { ...o4, DPoP })));
  must(t.token_type === 'dpop', `token_type ${t.token_type}, want DPoP`);
  const res = await o4retry(() => oauth.protectedResourceRequest(t.access_token, 'POST', new URL(job.getprofile_endpoint),
    new Headers({ 'X-API-Key': clientId }), null, { ...o4, DPoP }));
  await checkProfile(res, t.access_token);
  return { token: t.access_token, jkt: await jktOf(keyPair) };
}

Object.assign(oauth4webapi, {
  async 'dpop-cc'(job) {
    const as = await o4server(job);
    const c = { client_id: job.client_id };
    const keyPair = await oauth.generateKeyPair('ES256');
    const DPoP = oauth.DPoP(c, keyPair);
    const t = await o4retry(async () => oauth.processClientCredentialsResponse(as, c,
      await oauth.clientCredentialsGrantRequest(as, c, oauth.ClientSecretBasic(job.client_secret), { scope: job.scope }, { ...o4, DPoP })));
    must(t.token_type === 'dpop', `token_type ${t.token_type}, want DPoP`);
    return { token: t.access_token, jkt: await jktOf(keyPair) };
  },
  'dpop-getprofile': (job) => o4bound(job, job.client_id, job.client_secret),
  'dpop-nonce': (job) => o4bound(job, job.nonce_client_id, job.nonce_client_secret),
});

// --- simple-oauth2 ---------------------------------------------------------

async function simpleToken(job, authorizationMethod) {
  const u = new URL(job.token_endpoint);
  const cc = new simpleOAuth2.ClientCredentials({
    client: { id: job.client_id, secret: job.client_secret },
    auth: { tokenHost: u.origin, tokenPath: u.pathname },
    options: { authorizationMethod },
  });
  const at = await cc.getToken({ scope: job.scope });
  return { token: at.token.access_token };
}

const simple = {
  'cc-basic': (job) => simpleToken(job, 'header'),
  'cc-post': (job) => simpleToken(job, 'body'),
};

// --- verifiers -------------------------------------------------------------
// Each makes its verifier in the verify row and keeps it for
// verify-rotated: a function from a token to the claims it accepted.

const verifierFactories = {
  async jose(job) {
    const jwks = jose.createRemoteJWKSet(new URL(job.jwks_uri));
    return async (token) => (await jose.jwtVerify(token, jwks, {
      issuer: job.issuer, audience: job.audience, algorithms: [job.server_alg], typ: 'at+jwt',
    })).payload;
  },
  async 'jsonwebtoken + jwks-rsa'(job) {
    const jwks = jwksRsa({ jwksUri: job.jwks_uri });
    const getKey = (header, cb) => jwks.getSigningKey(header.kid).then((k) => cb(null, k.getPublicKey()), cb);
    return (token) => new Promise((resolve, reject) => {
      jsonwebtoken.verify(token, getKey, { algorithms: [job.server_alg], issuer: job.issuer, audience: job.audience },
        (err, claims) => (err ? reject(err) : resolve(claims)));
    });
  },
  async 'express-oauth2-jwt-bearer'(job) {
    const app = express();
    app.use(bearerAuth({ issuerBaseURL: job.issuer, audience: job.audience, tokenSigningAlg: job.server_alg, strict: true }));
    app.get('/resource', (req, res) => res.json(req.auth.payload));
    app.use((err, req, res, _next) => res.status(err.status || 500).json({ error: err.code || err.name, message: err.message }));
    const srv = await new Promise((resolve, reject) => {
      const s = app.listen(0, '127.0.0.1', (err) => (err ? reject(err) : resolve(s)));
    });
    servers.push(srv);
    const url = `http://127.0.0.1:${srv.address().port}/resource`;
    return async (token) => {
      const res = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
      const text = await res.text();
      must(res.status === 200, `the protected route answered ${res.status}: ${text}`);
      return JSON.parse(text);
    };
  },
};

const servers = [];

// --- assertion signers for secure mode --------------------------------------

const signers = {
  jose: { 'secure-mode': async (job) => exchange(job, await joseAssertion(job)) },
  'jsonwebtoken + jwks-rsa': {
    async 'secure-mode'(job) {
      const key = createPrivateKey({ key: job.secure_mode_key, format: 'jwk' });
      const assertion = jsonwebtoken.sign({ jti: randomUUID() }, key, {
        algorithm: job.secure_mode_alg, keyid: job.secure_mode_key.kid, issuer: job.client_id,
        subject: job.customer_id, audience: job.issuer, expiresIn: '5m',
      });
      return exchange(job, assertion);
    },
  },
};

const rowFuncs = {
  'openid-client': openidClient,
  oauth4webapi,
  'simple-oauth2': simple,
  ...signers,
};

// --- the protocol ------------------------------------------------------------

const verifiers = new Map();

function withTimeout(promise, ms) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`row timed out after ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

async function verifyRow(job, row, token) {
  let verify;
  if (row.scenario === 'verify') {
    const make = verifierFactories[row.library];
    must(make, `run.mjs has no verifier ${row.library}`);
    verify = await make(job);
    verifiers.set(row.library, verify);
  } else {
    verify = verifiers.get(row.library);
    must(verify, 'the verify row set up no verifier');
  }
  const start = Date.now();
  const deadline = start + (row.retry_seconds || 0) * 1000;
  for (;;) {
    try {
      const claims = await verify(token);
      const out = { claims };
      if (row.retry_seconds) out.detail = `accepted after ${Math.round((Date.now() - start) / 1000)} s`;
      return out;
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

async function runRow(job, row, token) {
  const timeout = ROW_TIMEOUT_MS + (row.retry_seconds || 0) * 1000;
  try {
    let out;
    if (row.scenario === 'verify' || row.scenario === 'verify-rotated') {
      out = await withTimeout(verifyRow(job, row, token), timeout);
    } else {
      const f = rowFuncs[row.library]?.[row.scenario];
      must(f, `run.mjs has no row ${row.library} ${row.scenario}`);
      out = await withTimeout(f(job), timeout);
    }
    emit({ library: row.library, scenario: row.scenario, ok: true, ...out });
  } catch (err) {
    emit({ library: row.library, scenario: row.scenario, ok: false, error: describe(err) });
  }
}

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const first = await lines.next();
if (first.done) process.exit(2);
const job = JSON.parse(first.value);
const versions = {};
for (const [lib, pkgs] of Object.entries({
  'openid-client': ['openid-client'],
  oauth4webapi: ['oauth4webapi'],
  'simple-oauth2': ['simple-oauth2'],
  jose: ['jose'],
  'jsonwebtoken + jwks-rsa': ['jsonwebtoken', 'jwks-rsa'],
  'express-oauth2-jwt-bearer': ['express-oauth2-jwt-bearer'],
})) {
  versions[lib] = (await Promise.all(pkgs.map(pkg))).join(' + ');
}
emit({ runtime: `Node.js ${process.version}`, versions });

const isAfter = (r) => r.scenario === 'verify-rotated';
await Promise.all(job.rows.filter((r) => !isAfter(r)).map((r) => runRow(job, r, job.token)));
emit({ done: 'before' });
const second = await lines.next();
if (!second.done) {
  const next = JSON.parse(second.value);
  must(next.phase === 'after', `want the after phase, got ${second.value}`);
  await Promise.all(job.rows.filter(isAfter).map((r) => runRow(job, r, next.token)));
  emit({ done: 'after' });
  await lines.next();
}
for (const s of servers) s.close();
process.exit(0);
