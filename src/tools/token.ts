/**
 * Mints a signed token for the configured key: used by `npm run token` and by
 * the tests, so both exercise exactly what the server verifies.
 */
import { importPKCS8, SignJWT } from 'jose';
import type { AuthConfig } from '../server/config.js';
import type { Role } from '../shared/caller.js';

export interface TokenRequest {
  readonly tenant: string;
  readonly roles: readonly Role[];
  readonly subject: string;
  readonly ttl_seconds?: number;
  /** For RS256/ES256 setups: the PKCS#8 PEM private key matching the JWKS. */
  readonly private_key_pem?: string;
  readonly algorithm?: 'HS256' | 'RS256' | 'ES256';
}

export async function mintToken(auth: AuthConfig, request: TokenRequest): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  let jwt = new SignJWT({ [auth.tenant_claim]: request.tenant, [auth.roles_claim]: [...request.roles] })
    .setSubject(request.subject)
    .setIssuedAt(now)
    .setExpirationTime(now + (request.ttl_seconds ?? 3600));
  if (auth.issuer) jwt = jwt.setIssuer(auth.issuer);
  if (auth.audience) jwt = jwt.setAudience(auth.audience);
  if (request.private_key_pem) {
    const algorithm = request.algorithm ?? 'RS256';
    return jwt.setProtectedHeader({ alg: algorithm }).sign(await importPKCS8(request.private_key_pem, algorithm));
  }
  if (auth.hs256_secret === undefined) {
    throw new Error('the server verifies with public keys (STOCKROOM_JWT_JWKS); pass --private-key FILE to sign');
  }
  return jwt.setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(auth.hs256_secret));
}
