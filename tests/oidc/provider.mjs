// A test OpenID provider: the certified `oidc-provider` package on
// loopback, with one confidential client (scimitar) and accounts the test
// registers. Started by the SSO integration tests (tests/integration/sso.rs)
// and the console's browser test; see README.md.
//
// Environment: CLIENT_ID, CLIENT_SECRET, REDIRECT_URI; PORT (default: any).
// Prints one JSON line, {"issuer": "http://127.0.0.1:<port>"}, once it listens.
//
// Test controls (POST, JSON body), loopback only like the rest:
//   /control/account  {"sub", ...claims}   registers an account
//   /control/next     {"sub"}               who the next login is, without a form
//   /control/mode     {"foreign_jwks": bool, "clock_offset_seconds": n}
//       foreign_jwks: the JWKS served is another key under the same kid,
//       so ID tokens no longer verify against the published keys;
//       clock_offset_seconds: the provider's clock (an expired ID token).
import http from 'node:http';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const clientId = process.env.CLIENT_ID || 'scimitar';
const clientSecret = process.env.CLIENT_SECRET;
const redirectUri = process.env.REDIRECT_URI;
if (!clientSecret || !redirectUri) {
  console.error('CLIENT_SECRET and REDIRECT_URI are required');
  process.exit(2);
}

const realNow = Date.now;
const mode = { foreignJwks: false, clockOffsetSeconds: 0 };
Date.now = () => realNow() + mode.clockOffsetSeconds * 1000;

function rsaJwk(kid) {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
}
const kid = crypto.randomUUID();
const signing = rsaJwk(kid);
const foreign = rsaJwk(kid);
const publicOf = ({ kty, n, e, kid: k, use, alg }) => ({ kty, n, e, kid: k, use, alg });

const accounts = new Map();
let next = null;

async function readJson(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body ? JSON.parse(body) : {};
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const server = http.createServer();
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys: [signing] },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    pkce: { required: () => true },
    // The claims of the requested scopes in the ID token itself, as Okta
    // and Entra ID put them there: scimitar reads no userinfo.
    conformIdTokenClaims: false,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username', 'name'],
    },
    ttl: { IdToken: 600, AuthorizationCode: 60, Interaction: 600, Session: 600, Grant: 600 },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // First-party client: no consent screen.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
    async findAccount(_ctx, sub) {
      const claims = accounts.get(sub) || { sub, email: sub, email_verified: true };
      return { accountId: sub, claims: async () => ({ ...claims, sub }) };
    },
  });
  const callback = provider.callback();

  server.on('request', async (req, res) => {
    try {
      const url = new URL(req.url, issuer);
      const path = url.pathname;
      if (req.method === 'POST' && path === '/control/account') {
        const account = await readJson(req);
        accounts.set(account.sub, account);
        return send(res, 204, 'text/plain', '');
      }
      if (req.method === 'POST' && path === '/control/next') {
        next = (await readJson(req)).sub;
        return send(res, 204, 'text/plain', '');
      }
      if (req.method === 'POST' && path === '/control/mode') {
        const m = await readJson(req);
        mode.foreignJwks = Boolean(m.foreign_jwks);
        mode.clockOffsetSeconds = Number(m.clock_offset_seconds || 0);
        return send(res, 204, 'text/plain', '');
      }
      if (path === '/jwks' && mode.foreignJwks) {
        return send(res, 200, 'application/json', JSON.stringify({ keys: [publicOf(foreign)] }));
      }
      const interaction = path.match(/^\/interaction\/([^/]+)(\/login)?$/);
      if (interaction) {
        const details = await provider.interactionDetails(req, res);
        let login = null;
        if (req.method === 'POST' && interaction[2]) {
          const form = new URLSearchParams(await (async () => {
            let b = ''; for await (const c of req) b += c; return b;
          })());
          login = form.get('login');
        } else if (next) {
          login = next;
          next = null;
        }
        if (login) {
          return provider.interactionFinished(
            req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false },
          );
        }
        return send(res, 200, 'text/html', `<!doctype html><html><head><title>Test identity provider</title></head>
<body><h1>Test identity provider</h1><p>Sign in to ${escapeHtml(details.params.client_id)}</p>
<form method="post" action="/interaction/${escapeHtml(details.uid)}/login">
<label for="login">Email</label> <input id="login" name="login" autofocus>
<button type="submit">Sign in</button></form></body></html>`);
      }
      return callback(req, res);
    } catch (e) {
      console.error(e);
      if (!res.headersSent) send(res, 500, 'text/plain', 'test provider error');
    }
  });

  console.log(JSON.stringify({ issuer }));
});
