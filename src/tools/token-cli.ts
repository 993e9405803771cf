/**
 * `npm run token -- --tenant acme --role admin --sub alice [--ttl 3600] [--private-key key.pem --alg RS256] [--link] [--url http://host:port]`
 * prints a token for the key the server is configured with (the development
 * secret when none is), for grpcurl's `-H "authorization: Bearer $TOKEN"`.
 * stdout carries only the token, so `TOKEN=$(npm run token --silent -- ...)`
 * works; the admin console's sign-in link goes to stderr (or, with --link,
 * to stdout instead of the token). The link points at --url, else at the
 * address the server's own settings give (STOCKROOM_HOST, STOCKROOM_PORT,
 * STOCKROOM_TLS_CERT_FILE), so it names the port the server really uses.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { ROLES, type Role } from '../shared/caller.js';
import { ConfigError, loadConfig } from '../server/config.js';
import { mintToken } from './token.js';

function fail(message: string): never {
  process.stderr.write(`token: ${message}\n`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    tenant: { type: 'string' },
    role: { type: 'string', multiple: true },
    sub: { type: 'string' },
    ttl: { type: 'string', default: '3600' },
    'private-key': { type: 'string' },
    alg: { type: 'string', default: 'RS256' },
    link: { type: 'boolean', default: false },
    url: { type: 'string' },
  },
  strict: true,
});
if (!values.tenant) fail('--tenant is required');
if (!values.sub) fail('--sub is required');
const roles = (values.role ?? []).flatMap((role) => role.split(','));
for (const role of roles) if (!(ROLES as readonly string[]).includes(role)) fail(`unknown role "${role}"; roles are ${ROLES.join(', ')}`);
if (!/^\d+$/.test(values.ttl!)) fail('--ttl must be a number of seconds');
const base_url = values.url === undefined ? undefined : serverUrl(values.url);

let config;
try {
  // Token minting only needs the key settings; an external database URL
  // without a key is the server's problem, not the minting tool's.
  config = loadConfig({ ...process.env, STOCKROOM_DATABASE_URL: process.env.STOCKROOM_JWT_SECRET || process.env.STOCKROOM_JWT_JWKS ? process.env.STOCKROOM_DATABASE_URL : undefined });
} catch (error) {
  if (error instanceof ConfigError) fail(error.message);
  throw error;
}
const token = await mintToken(config.auth, {
  tenant: values.tenant,
  roles: roles as Role[],
  subject: values.sub,
  ttl_seconds: Number(values.ttl),
  private_key_pem: values['private-key'] ? fs.readFileSync(values['private-key'], 'utf8') : undefined,
  algorithm: values.alg as 'RS256' | 'ES256',
});
const link = `${base_url ?? serverOrigin(config.host, config.port, Boolean(config.tls_cert_file))}/admin/#token=${token}`;
if (values.link) {
  process.stdout.write(`${link}\n`);
} else {
  process.stdout.write(`${token}\n`);
  process.stderr.write(`admin console: ${link}\n`);
}

// The console reads the token from the link's fragment, which browsers never send to a server.

/** Where the configured server listens, as a browser reaches it (a wildcard address is reached on loopback). */
function serverOrigin(host: string, port: number, tls: boolean): string {
  const reachable_host = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `${tls ? 'https' : 'http'}://${reachable_host}:${port}`;
}

/** --url: the server's address as the browser reaches it (behind a proxy, say); only its origin counts. */
function serverUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    fail(`--url must be an http or https URL such as http://127.0.0.1:50051, got "${text.slice(0, 64)}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`--url must be an http or https URL, got "${text.slice(0, 64)}"`);
  return url.origin;
}
