// A real OpenID Connect provider for the SSO tests: oidc-provider (npm, a certified
// implementation) with the clients the test names and the users a JSON file holds, read on each
// sign-in so a test can change a user's groups between two logins. Its one interaction is a
// form: pick a user, press "Sign in"; login and consent are granted at once.
//
// Env: PORT, ISSUER, CLIENTS (JSON list of oidc-provider client metadata), USERS_FILE
// ({sub: {preferred_username, name, email, groups}}). Prints "ready" once it listens.
import http from 'node:http';
import fs from 'node:fs';
import Provider from 'oidc-provider';

const users = () => JSON.parse(fs.readFileSync(process.env.USERS_FILE, 'utf8'));

const provider = new Provider(process.env.ISSUER, {
  clients: JSON.parse(process.env.CLIENTS),
  // `groups` rides on the profile scope, so the hub's "openid profile email" request gets it.
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name', 'groups'],
    email: ['email', 'email_verified'],
  },
  conformIdTokenClaims: false, // every granted claim in the ID token, as Keycloak and Okta do
  features: { devInteractions: { enabled: false } },
  pkce: { required: () => true },
  // HS256 (keyed by the client secret, not the published keys) for the client of the test
  // that checks the hub refuses such an ID token.
  enabledJWA: { idTokenSigningAlgValues: ['RS256', 'HS256'] },
  async findAccount(ctx, sub) {
    const user = users()[sub];
    if (!user) return undefined;
    return { accountId: sub, claims: async () => ({ sub, email_verified: true, ...user }) };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
});
provider.proxy = true;

const page = (uid) => `<!doctype html><title>Test IdP</title><h1>Test identity provider</h1>
<form method="post" action="/interaction/${uid}/login">
<label>User <select name="sub">${Object.entries(users())
  .map(([sub, u]) => `<option value="${sub}">${u.preferred_username}</option>`).join('')}</select></label>
<button type="submit" id="idp-sign-in">Sign in</button></form>`;

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (!action) {
    res.writeHead(200, { 'content-type': 'text/html' }).end(page(uid));
    return;
  }
  const sub = (await readForm(req)).get('sub');
  const grant = new provider.Grant({ accountId: sub, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { login: { accountId: sub }, consent: { grantId } },
    { mergeWithLastSubmission: false });
}

const callback = provider.callback();
http.createServer((req, res) => {
  const match = req.url.match(/^\/interaction\/([^/?]+)(?:\/(login))?/);
  if (!match) return callback(req, res);
  interaction(req, res, match[1], match[2]).catch((err) => {
    res.writeHead(400, { 'content-type': 'text/plain' }).end(String(err));
  });
}).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('ready'));
