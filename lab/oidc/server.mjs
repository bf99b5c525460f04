// The lab's authorization server: oidc-provider with the clients, user and resource endpoints the
// OAuth2 profile is checked against. One file, two instances:
//
//   node server.mjs --port 7400                    conformant
//   node server.mjs --port 7401 --misconfigured    PKCE not required for public clients,
//                                                  refresh tokens never rotated
//
// Client secrets and the user's password come from the environment (lab/credentials.env, which
// lab/up sources), so the values live in one place.
import { createHash, generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    misconfigured: { type: 'boolean', default: false },
  },
});
const port = Number.parseInt(args.port ?? '', 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node server.mjs --port <port> [--misconfigured]');
  process.exit(2);
}
const { misconfigured } = args;
const issuer = `http://127.0.0.1:${port}`;

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set: source lab/credentials.env first (lab/up does)`);
    process.exit(2);
  }
  return value;
}

const username = required('LAB_USERNAME');
const password = required('LAB_PASSWORD');

const REDIRECT_URI = 'http://127.0.0.1:7499/callback';
const SCOPES = ['openid', 'offline_access', 'read', 'write'];
// Tokens of this client expire after a few seconds, so expiry is checked in a short run.
const SHORT_LIVED_CLIENT = 'lab-short';
const SHORT_TTL_SECONDS = 5;
const DEFAULT_TTL_SECONDS = 600;

function client(clientId, authMethod, secretVariable, extraGrants = []) {
  return {
    client_id: clientId,
    ...(secretVariable ? { client_secret: required(secretVariable) } : {}),
    token_endpoint_auth_method: authMethod,
    redirect_uris: [REDIRECT_URI],
    response_types: ['code'],
    grant_types: ['authorization_code', 'refresh_token', ...extraGrants],
    scope: SCOPES.join(' '),
  };
}

const clients = [
  client('lab-basic', 'client_secret_basic', 'LAB_CLIENT_BASIC_SECRET', ['client_credentials']),
  client('lab-post', 'client_secret_post', 'LAB_CLIENT_POST_SECRET', ['client_credentials']),
  client('lab-public', 'none', undefined),
  client('lab-code', 'client_secret_basic', 'LAB_CLIENT_CODE_SECRET'),
  {
    ...client('lab-short', 'client_secret_basic', 'LAB_CLIENT_SHORT_SECRET', ['client_credentials']),
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
  },
];

function tokenTtl(ctx, token, tokenClient) {
  return tokenClient?.clientId === SHORT_LIVED_CLIENT ? SHORT_TTL_SECONDS : DEFAULT_TTL_SECONDS;
}

// Compares digests so that the comparison takes the same time whatever the input.
function sameSecret(given, expected) {
  const digest = (value) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

// A fresh signing key per start: nothing outside the lab keeps tokens across restarts.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

const configuration = {
  clients,
  scopes: SCOPES,
  // Only the code flow: the implicit flow is not part of what the lab checks.
  responseTypes: ['code'],
  // The methods the lab's clients use, so that discovery advertises nothing no client can show.
  clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
  claims: { openid: ['sub'] },
  jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256' }] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  async findAccount(ctx, id) {
    if (id !== username) return undefined;
    return { accountId: id, async claims() { return { sub: id }; } };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    // The built-in development login accepts any password; the routes below check it.
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    // Without resource indicators every access token is opaque and carries the static scopes
    // (read, write) it was granted, which is what the resource endpoints below check.
    resourceIndicators: { enabled: false },
  },
  // Refresh tokens for every client allowed the grant, with or without offline_access, so a
  // scenario does not need prompt=consent to get one.
  async issueRefreshToken(ctx, tokenClient) {
    return tokenClient.grantTypeAllowed('refresh_token');
  },
  rotateRefreshToken: () => !misconfigured,
  pkce: {
    required: (ctx, pkceClient) => !misconfigured && pkceClient.clientAuthMethod === 'none',
  },
  ttl: {
    AccessToken: tokenTtl,
    ClientCredentials: tokenTtl,
  },
};

const provider = new Provider(issuer, configuration);

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>
`;
}

function loginPage(uid, message) {
  const notice = message ? `<p class="error">${escapeHtml(message)}</p>\n` : '';
  return page('Sign-in', `${notice}<form autocomplete="off" action="/interaction/${escapeHtml(uid)}/login" method="post" accept-charset="UTF-8">
  <input type="hidden" name="prompt" value="login">
  <input required type="text" name="login" placeholder="login">
  <input required type="password" name="password" placeholder="password">
  <button type="submit" class="login login-submit">Sign-in</button>
</form>
<a href="/interaction/${escapeHtml(uid)}/abort">Cancel</a>`);
}

function consentPage(uid, clientId, scopes) {
  return page('Authorize', `<p>${escapeHtml(clientId)} asks for: ${escapeHtml(scopes.join(' '))}</p>
<form autocomplete="off" action="/interaction/${escapeHtml(uid)}/confirm" method="post">
  <input type="hidden" name="prompt" value="consent">
  <button autofocus type="submit" class="login login-submit">Continue</button>
</form>
<a href="/interaction/${escapeHtml(uid)}/abort">Cancel</a>`);
}

async function formBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw Object.assign(new Error('request body too large'), { status: 413 });
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function html(ctx, status, body) {
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = body;
}

// The interaction routes: oidc-provider's own interaction API (interactionDetails,
// interactionFinished, its _interaction cookies) behind a login form that checks the password.
async function interactions(ctx, next) {
  const match = /^\/interaction\/([A-Za-z0-9_-]+)(\/login|\/confirm|\/abort)?$/.exec(ctx.path);
  if (!match) return next();
  const [, uid, action = ''] = match;
  try {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== uid) return html(ctx, 400, page('Error', '<p>interaction mismatch</p>'));
    const { prompt, params, session } = details;

    if (action === '' && ctx.method === 'GET') {
      switch (prompt.name) {
        case 'login':
          return html(ctx, 200, loginPage(uid));
        case 'consent':
          return html(ctx, 200, consentPage(uid, params.client_id, String(params.scope ?? '').split(' ')));
        default:
          return html(ctx, 501, page('Error', '<p>unsupported prompt</p>'));
      }
    }
    if (action === '/login' && ctx.method === 'POST') {
      if (prompt.name !== 'login') return html(ctx, 400, page('Error', '<p>not a login step</p>'));
      const form = await formBody(ctx.req);
      const login = form.get('login') ?? '';
      const given = form.get('password') ?? '';
      // Both compared, always, so a wrong user and a wrong password take the same time.
      const userMatches = sameSecret(login, username);
      const passwordMatches = sameSecret(given, password);
      if (!(userMatches && passwordMatches)) {
        return html(ctx, 200, loginPage(uid, 'Invalid login or password.'));
      }
      ctx.respond = false;
      return provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: login } }, {
        mergeWithLastSubmission: false,
      });
    }
    if (action === '/confirm' && ctx.method === 'POST') {
      if (prompt.name !== 'consent') return html(ctx, 400, page('Error', '<p>not a consent step</p>'));
      await formBody(ctx.req);
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
      if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
      const grantId = await grant.save();
      const consent = details.grantId ? {} : { grantId };
      ctx.respond = false;
      return provider.interactionFinished(ctx.req, ctx.res, { consent }, { mergeWithLastSubmission: true });
    }
    if (action === '/abort' && ctx.method === 'GET') {
      ctx.respond = false;
      return provider.interactionFinished(ctx.req, ctx.res, {
        error: 'access_denied',
        error_description: 'End-User aborted interaction',
      }, { mergeWithLastSubmission: false });
    }
    return html(ctx, 405, page('Error', '<p>method not allowed</p>'));
  } catch (err) {
    if (err instanceof errors.SessionNotFound) {
      return html(ctx, 400, page('Error', '<p>interaction session not found or expired</p>'));
    }
    throw err;
  }
}

// The protected resources: RFC 6750 bearer-token checks against the tokens this server issued.
const RESOURCES = { '/api/read': 'read', '/api/write': 'write' };
const REALM = 'lab';

function challenge(ctx, status, error, extra = {}) {
  const params = [`realm="${REALM}"`];
  if (error) params.push(`error="${error}"`);
  for (const [key, value] of Object.entries(extra)) params.push(`${key}="${value}"`);
  ctx.status = status;
  ctx.set('WWW-Authenticate', `Bearer ${params.join(', ')}`);
  ctx.set('Cache-Control', 'no-store');
  if (error) ctx.body = { error };
  else ctx.body = '';
}

async function findToken(value) {
  const token = (await provider.AccessToken.find(value)) ?? (await provider.ClientCredentials.find(value));
  if (!token || token.isExpired) return undefined;
  return token;
}

async function resources(ctx, next) {
  const scope = RESOURCES[ctx.path];
  if (!scope) return next();
  if (ctx.method !== 'GET') {
    ctx.status = 405;
    ctx.set('Allow', 'GET');
    return undefined;
  }
  const authorization = ctx.get('Authorization');
  const bearer = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
  if (!authorization || !/^Bearer\b/i.test(authorization)) return challenge(ctx, 401);
  if (!bearer) return challenge(ctx, 400, 'invalid_request');
  const token = await findToken(bearer[1]);
  if (!token) return challenge(ctx, 401, 'invalid_token');
  const granted = new Set(String(token.scope ?? '').split(' '));
  if (!granted.has(scope)) return challenge(ctx, 403, 'insufficient_scope', { scope });
  ctx.status = 200;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { resource: scope, client_id: token.clientId, sub: token.accountId ?? null };
  return undefined;
}

provider.use(resources);
provider.use(interactions);

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider (${misconfigured ? 'misconfigured' : 'conformant'}) listening, issuer ${issuer}`);
});
server.on('error', (err) => {
  console.error(`cannot listen on 127.0.0.1:${port}: ${err.message}`);
  process.exit(1);
});
