/**
 * `npm run token -- --tenant acme --role admin --sub alice [--ttl 3600] [--private-key key.pem --alg RS256]`
 * prints a token for the key the server is configured with (the development
 * secret when none is), for grpcurl's `-H "authorization: Bearer $TOKEN"`.
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
  },
  strict: true,
});
if (!values.tenant) fail('--tenant is required');
if (!values.sub) fail('--sub is required');
const roles = (values.role ?? []).flatMap((role) => role.split(','));
for (const role of roles) if (!(ROLES as readonly string[]).includes(role)) fail(`unknown role "${role}"; roles are ${ROLES.join(', ')}`);
if (!/^\d+$/.test(values.ttl!)) fail('--ttl must be a number of seconds');

let auth;
try {
  // Token minting only needs the key settings; an external database URL
  // without a key is the server's problem, not the minting tool's.
  auth = loadConfig({ ...process.env, STOCKROOM_DATABASE_URL: process.env.STOCKROOM_JWT_SECRET || process.env.STOCKROOM_JWT_JWKS ? process.env.STOCKROOM_DATABASE_URL : undefined }).auth;
} catch (error) {
  if (error instanceof ConfigError) fail(error.message);
  throw error;
}
const token = await mintToken(auth, {
  tenant: values.tenant,
  roles: roles as Role[],
  subject: values.sub,
  ttl_seconds: Number(values.ttl),
  private_key_pem: values['private-key'] ? fs.readFileSync(values['private-key'], 'utf8') : undefined,
  algorithm: values.alg as 'RS256' | 'ES256',
});
process.stdout.write(`${token}\n`);
