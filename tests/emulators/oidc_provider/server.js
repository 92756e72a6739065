// A real third-party OAuth 2.0 / OpenID Connect authorization server for xkit's tests:
// panva's oidc-provider behind HTTPS, with its own login and consent pages (stable element ids
// for Playwright), strict refresh token rotation and a small JSON control API under /_control.
//
//   node server.js --port 8443 --cert server.pem --key server-key.pem [--clients clients.json]
//                  [--access-token-ttl 60] [--refresh-token-ttl 1209600] [--issuer https://...]
//
// Nothing here logs token values: errors are logged by name and detail only.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    cert: { type: 'string' },
    key: { type: 'string' },
    issuer: { type: 'string' },
    clients: { type: 'string' },
    'access-token-ttl': { type: 'string', default: '60' },
    'refresh-token-ttl': { type: 'string', default: String(14 * 24 * 3600) },
  },
});

if (!args.cert || !args.key || !Number(args.port)) {
  console.error('usage: node server.js --port N --cert CERT.pem --key KEY.pem [--clients FILE]');
  process.exit(2);
}

// Settings the control API may change while the server runs.
const settings = {
  access_token_ttl: Number(args['access-token-ttl']),
  refresh_token_ttl: Number(args['refresh-token-ttl']),
  // oidc-provider follows OIDC Core §11: `offline_access` is dropped from the granted scope
  // unless the request carries prompt=consent. Most OAuth providers don't care, and xkit's
  // generic connector doesn't send it, so by default we add prompt=consent for such requests.
  // Set this to true to get the library's strict behaviour back.
  offline_access_requires_prompt: false,
  // Hold successful refresh answers back this long *after* the refresh token was rotated, so a
  // test can kill the client inside the round trip: the provider has used the old token up and
  // the client never learns the new one. Applies to the next `refresh_answer_delay_count`
  // answers (then resets to 0), or to every answer while the count is null.
  refresh_answer_delay_ms: 0,
  refresh_answer_delay_count: null,
};

// --- storage ------------------------------------------------------------------------------------
// A plain in-memory adapter. The bundled one is an LRU capped at 1000 entries, which a long test
// session could overflow (evicting refresh tokens mid-test); this one only forgets expired data.

const store = new Map(); // "Model:id" -> { payload, expiresAt }
const grantMembers = new Map(); // grantId -> Set of "Model:id" keys
const sessionUids = new Map(); // session uid -> session id
const userCodes = new Map(); // device flow user code -> id

function alive(key) {
  const entry = store.get(key);
  if (!entry) return undefined;
  if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return entry;
}

class MemoryAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined;
    store.set(key, { payload: structuredClone(payload), expiresAt });
    if (payload.grantId) {
      if (!grantMembers.has(payload.grantId)) grantMembers.set(payload.grantId, new Set());
      grantMembers.get(payload.grantId).add(key);
    }
    if (this.model === 'Session' && payload.uid) sessionUids.set(payload.uid, id);
    if (payload.userCode) userCodes.set(payload.userCode, id);
  }

  async find(id) {
    const entry = alive(this.key(id));
    return entry ? structuredClone(entry.payload) : undefined;
  }

  async findByUid(uid) {
    const id = sessionUids.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = userCodes.get(userCode);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const entry = alive(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const key of grantMembers.get(grantId) ?? []) store.delete(key);
    grantMembers.delete(grantId);
  }
}

// --- accounts -----------------------------------------------------------------------------------
// Anyone can sign in with any login name (the password is ignored); the login is the subject.

function findAccount(_ctx, sub) {
  return {
    accountId: sub,
    async claims() {
      return {
        sub,
        email: `${sub}@example.test`,
        email_verified: true,
        name: `Test User ${sub}`,
        preferred_username: sub,
      };
    },
  };
}

// --- provider -----------------------------------------------------------------------------------

const port = Number(args.port);
const issuer = args.issuer ?? `https://${args.host}:${port}`;

function signingKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: crypto.randomUUID(), use: 'sig', alg: 'RS256' };
}

function loadClients() {
  if (!args.clients) return [];
  return JSON.parse(fs.readFileSync(args.clients, 'utf8')).map(clientMetadata);
}

// Fill in what the harness wants by default for a confidential web client.
function clientMetadata(input) {
  return {
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...input,
  };
}

const provider = new Provider(issuer, {
  adapter: MemoryAdapter,
  clients: loadClients(),
  findAccount,
  jwks: { keys: [signingKey()] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
  },
  // Scopes beyond the claim scopes above; `api:*` stand in for an API's own scopes.
  scopes: ['openid', 'offline_access', 'api:read', 'api:write'],
  responseTypes: ['code'], // an authorization code server, nothing implicit
  // Our own per-client switch, `require_pkce`; public clients always need PKCE (library default).
  extraClientMetadata: { properties: ['require_pkce'] },
  pkce: {
    required: (_ctx, client) => client.clientAuthMethod === 'none' || client.require_pkce === true,
  },
  features: {
    devInteractions: { enabled: false }, // our own pages below, with stable ids
    // A client may revoke or introspect only its own tokens.
    revocation: { enabled: true, allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId },
    introspection: { enabled: true, allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId },
    userinfo: { enabled: true },
    // RFC 6749 §4.4, for xkit's client_credentials auth type: a client registered with
    // grant_types ['client_credentials'] gets tokens for itself, scoped by its `scope`.
    clientCredentials: { enabled: true },
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  // Every client allowed the refresh_token grant gets a refresh token, offline_access or not,
  // and it does not die with the browser session.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  expiresWithSession: async () => false,
  // Always rotate. Presenting a rotated-out refresh token makes the library revoke the whole
  // grant (lib/actions/grants/refresh_token.js: "refresh token already used" -> revoke()).
  rotateRefreshToken: true,
  ttl: {
    AccessToken: () => settings.access_token_ttl,
    RefreshToken: () => settings.refresh_token_ttl,
    ClientCredentials: () => settings.access_token_ttl, // app tokens live as user tokens do
    AuthorizationCode: 60,
    IdToken: 3600,
    Interaction: 3600,
    Session: 14 * 24 * 3600,
    Grant: 14 * 24 * 3600,
  },
  clientBasedCORS: () => false,
  // The library's defaults, spelled out because the Python harness and docs name them.
  routes: {
    authorization: '/auth',
    token: '/token',
    userinfo: '/me',
    jwks: '/jwks',
    revocation: '/token/revocation',
    introspection: '/token/introspection',
    end_session: '/session/end',
  },
});

// --- statistics -----------------------------------------------------------------------------------

function emptyStats() {
  return {
    token_requests: {}, // grant_type -> requests answered
    token_successes: {}, // grant_type -> successful grants
    token_errors: {}, // grant_type -> failed grants
    refresh: { succeeded: 0, failed: 0, reuse_detected: 0, by_account: {} },
    refresh_errors: {}, // error detail ("refresh token already used", "grant not found", ...) -> count
    grants_revoked: 0,
    grants_revoked_by_reason: {}, // refresh_token_reuse, authorization_code_reuse, revocation, ...
    revocations: [], // { grant_id, reason, account_id, client_id }
    authorizations: { success: 0, error: 0 },
    refresh_answers_held: 0, // answers held back by refresh_answer_delay_ms
  };
}

let stats = emptyStats();

function bump(counter, key, by = 1) {
  counter[key] = (counter[key] ?? 0) + by;
}

function grantTypeOf(ctx) {
  return ctx.oidc?.params?.grant_type ?? 'unknown';
}

provider.on('grant.success', (ctx) => {
  const grantType = grantTypeOf(ctx);
  bump(stats.token_successes, grantType);
  if (grantType === 'refresh_token') {
    stats.refresh.succeeded += 1;
    const account = ctx.oidc.entities.Account?.accountId;
    if (account) bump(stats.refresh.by_account, account);
  }
});

provider.on('grant.error', (ctx, err) => {
  const grantType = grantTypeOf(ctx);
  bump(stats.token_errors, grantType);
  if (grantType === 'refresh_token') {
    stats.refresh.failed += 1;
    const detail = err.error_detail ?? err.error_description ?? err.message;
    bump(stats.refresh_errors, detail);
    if (detail === 'refresh token already used') stats.refresh.reuse_detected += 1;
  }
  console.error(`token error: grant_type=${grantType} error=${err.error} detail=${err.error_detail ?? ''}`);
});

provider.on('grant.revoked', (ctx, grantId) => {
  let reason = ctx.oidc?.route ?? 'unknown';
  if (reason === 'token') reason = `${grantTypeOf(ctx)}_reuse`;
  stats.grants_revoked += 1;
  bump(stats.grants_revoked_by_reason, reason);
  const { RefreshToken, AccessToken, AuthorizationCode } = ctx.oidc?.entities ?? {};
  const token = RefreshToken ?? AccessToken ?? AuthorizationCode;
  stats.revocations.push({
    grant_id: grantId,
    reason,
    account_id: token?.accountId ?? null,
    client_id: ctx.oidc?.client?.clientId ?? null,
  });
  console.error(`grant revoked: reason=${reason} account=${token?.accountId ?? '?'}`);
});

provider.on('authorization.success', () => { stats.authorizations.success += 1; });
provider.on('authorization.error', (_ctx, err) => {
  stats.authorizations.error += 1;
  console.error(`authorization error: ${err.error} ${err.error_detail ?? err.error_description ?? ''}`);
});
provider.on('server_error', (_ctx, err) => console.error('server error:', err));

// --- HTTP helpers ---------------------------------------------------------------------------------

async function readBody(ctx) {
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function readJson(ctx) {
  const text = await readBody(ctx);
  return text ? JSON.parse(text) : {};
}

function sendJson(ctx, status, body) {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = JSON.stringify(body);
}

function escapeHtml(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;max-width:28rem;margin:3rem auto}input,button{display:block;margin:.5rem 0;padding:.4rem;width:100%}</style>
</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

// --- login and consent pages ------------------------------------------------------------------------
// GET  /interaction/:uid          the current prompt's page (login or consent)
// POST /interaction/:uid/login    login=<name>&password=<ignored>
// POST /interaction/:uid/confirm  grant every scope and claim the client asked for
// POST /interaction/:uid/abort    deny: the client gets error=access_denied

async function interactionPage(ctx, uid) {
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { prompt, params } = details;
  const client = await provider.Client.find(params.client_id);
  const clientName = client?.clientName ?? params.client_id;
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');

  if (prompt.name === 'login') {
    ctx.body = page('Sign in', `
<p>Sign in to continue to <strong id="client-name">${escapeHtml(clientName)}</strong>.
Any login works; the password is ignored.</p>
<form id="login-form" data-prompt="login" method="post" action="/interaction/${uid}/login" autocomplete="off">
  <label for="login">Login</label>
  <input id="login" name="login" type="text" required value="${escapeHtml(params.login_hint)}">
  <label for="password">Password</label>
  <input id="password" name="password" type="password">
  <button id="sign-in" type="submit">Sign in</button>
</form>`);
    return;
  }

  if (prompt.name === 'consent') {
    const requested = (params.scope ?? '').split(' ').filter(Boolean);
    const items = requested
      .map((scope) => `<li class="scope" data-scope="${escapeHtml(scope)}">${escapeHtml(scope)}</li>`)
      .join('');
    ctx.body = page('Authorize access', `
<p><strong id="client-name">${escapeHtml(clientName)}</strong> asks for access to your account
<span id="account">${escapeHtml(details.session?.accountId)}</span>:</p>
<ul id="scopes">${items}</ul>
<form id="consent-form" data-prompt="consent" method="post" action="/interaction/${uid}/confirm">
  <button id="approve" type="submit">Allow</button>
</form>
<form id="deny-form" data-prompt="abort" method="post" action="/interaction/${uid}/abort">
  <button id="deny" type="submit">Deny</button>
</form>`);
    return;
  }

  ctx.status = 501;
  ctx.body = page('Unsupported', `<p>prompt ${escapeHtml(prompt.name)} is not implemented</p>`);
}

async function finishInteraction(ctx, result, mergeWithLastSubmission) {
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
    mergeWithLastSubmission,
  });
  ctx.redirect(returnTo);
  ctx.status = 303;
}

async function interactionSubmit(ctx, action) {
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { prompt, params, session, grantId } = details;

  if (action === 'abort') {
    await finishInteraction(ctx, { error: 'access_denied', error_description: 'End-User denied access' }, false);
    return;
  }

  if (action === 'login') {
    const login = new URLSearchParams(await readBody(ctx)).get('login')?.trim();
    if (prompt.name !== 'login' || !login) {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = page('Sign in', '<p id="error">A login name is required.</p>');
      return;
    }
    await finishInteraction(ctx, { login: { accountId: login } }, false);
    return;
  }

  if (action === 'confirm' && prompt.name === 'consent') {
    // Same as the library's development pages: grant exactly what is missing.
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
    if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    await finishInteraction(ctx, { consent: { grantId: await grant.save() } }, true);
    return;
  }

  ctx.status = 400;
  ctx.type = 'html';
  ctx.body = page('Error', `<p id="error">Nothing to ${escapeHtml(action)} here (prompt: ${escapeHtml(prompt.name)}).</p>`);
}

// --- control API -------------------------------------------------------------------------------------

async function registerClient(ctx) {
  const body = await readJson(ctx);
  const metadata = clientMetadata({
    client_id: body.client_id ?? `client-${crypto.randomBytes(6).toString('hex')}`,
    ...body,
  });
  const existing = await provider.Client.find(metadata.client_id);
  if (existing?.noManage) { // set by the library on clients given at startup
    sendJson(ctx, 409, { error: `client ${metadata.client_id} was configured at startup and cannot be replaced` });
    return;
  }
  if (metadata.token_endpoint_auth_method !== 'none' && !metadata.client_secret) {
    metadata.client_secret = crypto.randomBytes(24).toString('base64url');
  }
  try {
    await provider.Client.validate(metadata);
  } catch (err) {
    sendJson(ctx, 400, { error: err.error ?? 'invalid_client_metadata', error_description: err.error_description ?? err.message });
    return;
  }
  await provider.Client.adapter.upsert(metadata.client_id, metadata);
  sendJson(ctx, 201, metadata);
}

// Issue a grant, refresh token and access token without any browser, as if `sub` had just
// authorized `client_id` for `scope`.
async function mint(ctx) {
  const body = await readJson(ctx);
  const client = await provider.Client.find(body.client_id);
  if (!client) {
    sendJson(ctx, 404, { error: 'unknown client', client_id: body.client_id });
    return;
  }
  if (!body.sub) {
    sendJson(ctx, 400, { error: 'sub is required' });
    return;
  }
  const scope = body.scope ?? 'openid offline_access email profile';
  const sub = String(body.sub);

  const grant = new provider.Grant({ accountId: sub, clientId: client.clientId });
  grant.addOIDCScope(scope);
  const grantId = await grant.save();

  const common = { accountId: sub, client, grantId, gty: 'authorization_code', scope, expiresWithSession: false };
  const refreshToken = new provider.RefreshToken({ ...common, authTime: Math.floor(Date.now() / 1000) });
  const accessToken = new provider.AccessToken({
    ...common,
    ...(body.access_token_ttl ? { expiresIn: Number(body.access_token_ttl) } : {}),
  });
  const response = {
    access_token: await accessToken.save(),
    token_type: 'Bearer',
    expires_in: accessToken.expiration,
    refresh_token: client.grantTypeAllowed('refresh_token') ? await refreshToken.save() : undefined,
    scope,
    grant_id: grantId,
  };
  sendJson(ctx, 201, response);
}

async function control(ctx) {
  const route = `${ctx.method} ${ctx.path}`;
  switch (route) {
    case 'GET /_control/health':
      return sendJson(ctx, 200, { ok: true, issuer });
    case 'GET /_control/stats':
      return sendJson(ctx, 200, stats);
    case 'POST /_control/reset-stats':
      stats = emptyStats();
      return sendJson(ctx, 200, stats);
    case 'GET /_control/settings':
      return sendJson(ctx, 200, settings);
    case 'POST /_control/settings': {
      const changes = await readJson(ctx);
      for (const [key, value] of Object.entries(changes)) {
        if (!(key in settings)) return sendJson(ctx, 400, { error: `unknown setting ${key}` });
        settings[key] = value;
      }
      return sendJson(ctx, 200, settings);
    }
    case 'POST /_control/clients':
      return registerClient(ctx);
    case 'POST /_control/mint':
      return mint(ctx);
    default: {
      const grant = ctx.path.match(/^\/_control\/grants\/([^/]+)$/);
      if (grant && ctx.method === 'GET') {
        const found = await provider.Grant.find(decodeURIComponent(grant[1]));
        return sendJson(ctx, found ? 200 : 404, { exists: Boolean(found) });
      }
      return sendJson(ctx, 404, { error: `no control route ${route}` });
    }
  }
}

// --- middleware ---------------------------------------------------------------------------------------

// Token requests are handled one at a time. oidc-provider reads a refresh token, checks
// `consumed`, then marks it consumed, with awaits in between. With in-memory storage those
// awaits never yield to the network, so two racing requests happen not to interleave; the
// queue turns that accident of timing into a guarantee: whichever request comes second, even
// a microsecond later, sees a consumed token and revokes the grant (stricter than a cluster).
let tokenQueue = Promise.resolve();
function oneAtATime(task) {
  const run = tokenQueue.then(task, task);
  tokenQueue = run.catch(() => {});
  return run;
}

async function holdRefreshAnswer(ctx) {
  if (grantTypeOf(ctx) !== 'refresh_token' || ctx.status !== 200) return;
  if (!(settings.refresh_answer_delay_ms > 0) || settings.refresh_answer_delay_count === 0) return;
  if (typeof settings.refresh_answer_delay_count === 'number') settings.refresh_answer_delay_count -= 1;
  stats.refresh_answers_held += 1;
  await new Promise((resolve) => setTimeout(resolve, settings.refresh_answer_delay_ms));
}

const tokenPath = '/token';
const authorizationPath = '/auth';

provider.use(async (ctx, next) => {
  if (ctx.path.startsWith('/_control/')) {
    try {
      await control(ctx);
    } catch (err) {
      console.error('control error:', err);
      sendJson(ctx, 500, { error: String(err.message ?? err) });
    }
    return;
  }

  const interaction = ctx.path.match(/^\/interaction\/([^/]+)(?:\/(login|confirm|abort))?$/);
  if (interaction) {
    const [, uid, action] = interaction;
    try {
      if (ctx.method === 'GET' && !action) await interactionPage(ctx, uid);
      else if (ctx.method === 'POST' && action) await interactionSubmit(ctx, action);
      else ctx.status = 405;
    } catch (err) {
      // Typically SessionNotFound: the interaction cookie is missing or expired.
      ctx.status = err.statusCode ?? 500;
      ctx.type = 'html';
      ctx.body = page('Error', `<p id="error">${escapeHtml(err.error_description ?? err.message)}</p>`);
      console.error(`interaction error: ${err.name}: ${err.message}`);
    }
    return;
  }

  if (ctx.method === 'GET' && ctx.path === authorizationPath && !settings.offline_access_requires_prompt) {
    const query = new URLSearchParams(ctx.querystring);
    if ((query.get('scope') ?? '').split(' ').includes('offline_access') && !query.has('prompt')) {
      query.set('prompt', 'consent');
      ctx.querystring = query.toString();
    }
  }

  if (ctx.method === 'POST' && ctx.path === tokenPath) {
    await oneAtATime(async () => {
      try {
        await next();
      } finally {
        bump(stats.token_requests, grantTypeOf(ctx));
      }
    });
    await holdRefreshAnswer(ctx); // outside the queue: other token requests go on meanwhile
    return;
  }

  await next();
});

const server = https.createServer(
  { cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key) },
  provider.callback(),
);
server.listen(port, args.host, () => {
  console.log(`oidc-provider ${issuer} listening (access token ttl ${settings.access_token_ttl}s)`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
