// panva's oidc-provider (a certified OpenID provider) set up for the same test as the emulator:
// client credentials with a client secret in the form, an RS256-signed JWT access token
// (2048-bit RSA key) for one resource, served over HTTPS on 127.0.0.1.
// Usage: node oidc-provider-server.mjs PORT KEY.pem CERT.pem  (prints "ready" once listening)
import https from 'node:https';
import crypto from 'node:crypto';
import fs from 'node:fs';
import Provider from 'oidc-provider';

const [port, keyFile, certFile] = process.argv.slice(2);
const signing = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  .export({ format: 'jwk' });
const provider = new Provider(`https://127.0.0.1:${port}`, {
  clients: [{
    client_id: 'bench',
    client_secret: 'bench-secret-0123456789',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_post',
  }],
  jwks: { keys: [{ ...signing, kid: 'bench', alg: 'RS256', use: 'sig' }] },
  cookies: { keys: ['bench-cookie-key'] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'api://bench',
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'read',
        audience: 'api://bench',
        accessTokenTTL: 3600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});
https.createServer({ key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile) },
  provider.callback()).listen(Number(port), '127.0.0.1', () => console.log('ready'));
