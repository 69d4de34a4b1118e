// A real upstream OpenID Connect provider for the federation tests: the npm package
// `oidc-provider` (pinned in package.json) on 127.0.0.1, an ephemeral port, with its
// development login and consent pages (any login name signs in as that account).
//
// usage: node oidc_upstream.mjs '{"client_id": "...", "client_secret": "...",
//                                  "redirect_uris": ["..."], "auth_method": "client_secret_basic"}'
// prints one line of JSON, {"issuer": "http://127.0.0.1:PORT"}, once it listens, and runs
// until it is killed.
import http from 'node:http';
import Provider from 'oidc-provider';

const settings = JSON.parse(process.argv[2]);
const server = http.createServer();

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: settings.client_id,
      client_secret: settings.client_secret,
      redirect_uris: settings.redirect_uris,
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: settings.auth_method || 'client_secret_basic',
    }],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    // The test account: whatever name was typed on the login page, with claims made from it.
    async findAccount(ctx, id) {
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            email: `${id}@upstream.example`,
            email_verified: true,
            name: `Upstream ${id}`,
          };
        },
      };
    },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
  });
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
