/**
 * Bearer-token authentication with jose. The verifier knows the key source
 * (an HS256 secret, or RS256/ES256 public keys from a JWKS file or URL),
 * checks signature, expiry, not-before (with a small clock skew), issuer and
 * audience, and turns the claims into a Caller.
 *
 * Failures say what is wrong with the token in a few words and nothing about
 * the key: the reason is for the caller's logs, not a signing oracle.
 */
import fs from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ROLES, type Caller, type Role } from '../shared/caller.js';
import { UnauthenticatedError } from '../shared/errors.js';
import type { AuthConfig } from './config.js';

const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const SUBJECT_MAX_LENGTH = 256;

type KeySource = Uint8Array | JWTVerifyGetKey;

function keySource(config: AuthConfig): KeySource {
  if (config.hs256_secret !== undefined) return new TextEncoder().encode(config.hs256_secret);
  const source = config.jwks_source!;
  if (/^https?:\/\//.test(source)) return createRemoteJWKSet(new URL(source), { cooldownDuration: 30_000, timeoutDuration: 5_000 });
  return createLocalJWKSet(JSON.parse(fs.readFileSync(source, 'utf8')));
}

/** Verified tokens remembered, so a client that reuses its token is not re-verified on every call. */
const VERIFIED_CACHE_ENTRIES_MAX = 2_048;

interface VerifiedToken {
  readonly caller: Caller;
  /** Expiry (plus skew) in ms since the epoch; the cache honours it on every hit. */
  readonly valid_until_ms: number;
}

export class TokenVerifier {
  private readonly key: KeySource;
  private readonly algorithms: string[];
  // Keyed by the whole token text: the same bytes verify the same way until
  // they expire. Signature checks were 12-16% of server CPU on hot RPCs.
  private readonly verified = new Map<string, VerifiedToken>();

  constructor(private readonly config: AuthConfig) {
    this.key = keySource(config);
    this.algorithms = config.hs256_secret !== undefined ? ['HS256'] : ['RS256', 'ES256'];
  }

  /** @throws UnauthenticatedError for a missing, malformed, expired or unverifiable token. */
  async verify(authorization: string | null): Promise<Caller> {
    if (!authorization) throw new UnauthenticatedError('missing authorization header; send "authorization: Bearer <token>"', 'MISSING_TOKEN');
    const match = /^Bearer\s+([A-Za-z0-9._~+/=-]+)$/i.exec(authorization.trim());
    if (!match) throw new UnauthenticatedError('authorization header must be "Bearer <token>"', 'MALFORMED_TOKEN');
    const cached = this.verified.get(match[1]);
    if (cached) {
      if (Date.now() < cached.valid_until_ms) return cached.caller;
      this.verified.delete(match[1]);
    }
    let payload: JWTPayload;
    try {
      const options = {
        algorithms: this.algorithms,
        clockTolerance: this.config.clock_skew_seconds,
        issuer: this.config.issuer,
        audience: this.config.audience,
        requiredClaims: ['exp', 'sub'],
      };
      const result =
        this.key instanceof Uint8Array
          ? await jwtVerify(match[1], this.key, options)
          : await jwtVerify(match[1], this.key, options);
      payload = result.payload;
    } catch (error) {
      throw describe(error);
    }
    const caller = this.caller(payload);
    this.remember(match[1], caller, payload);
    return caller;
  }

  private remember(token: string, caller: Caller, payload: JWTPayload): void {
    // A token that is not valid yet (nbf within the skew) is not cached: it is rare.
    if (typeof payload.exp !== 'number' || (typeof payload.nbf === 'number' && payload.nbf * 1000 > Date.now())) return;
    if (this.verified.size >= VERIFIED_CACHE_ENTRIES_MAX) {
      // Map keeps insertion order: drop the oldest entry.
      this.verified.delete(this.verified.keys().next().value!);
    }
    this.verified.set(token, { caller, valid_until_ms: (payload.exp + this.config.clock_skew_seconds) * 1000 });
  }

  private caller(payload: JWTPayload): Caller {
    const subject = payload.sub;
    if (typeof subject !== 'string' || subject === '' || subject.length > SUBJECT_MAX_LENGTH) {
      throw new UnauthenticatedError('token has no usable "sub" claim', 'INVALID_CLAIMS');
    }
    const tenant = payload[this.config.tenant_claim];
    if (typeof tenant !== 'string' || !TENANT_PATTERN.test(tenant)) {
      throw new UnauthenticatedError(`token has no usable "${this.config.tenant_claim}" claim`, 'INVALID_CLAIMS');
    }
    const claimed = payload[this.config.roles_claim];
    const listed = Array.isArray(claimed) ? claimed : typeof claimed === 'string' ? claimed.split(/[\s,]+/) : [];
    const roles = new Set<Role>(listed.filter((role): role is Role => (ROLES as readonly unknown[]).includes(role)));
    return { tenant_id: tenant, subject, roles };
  }
}

function describe(error: unknown): UnauthenticatedError {
  if (error instanceof joseErrors.JWTExpired) return new UnauthenticatedError('token has expired', 'TOKEN_EXPIRED');
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return new UnauthenticatedError('token is not meant for this audience', 'WRONG_AUDIENCE');
    if (error.claim === 'iss') return new UnauthenticatedError('token is from an unexpected issuer', 'WRONG_ISSUER');
    if (error.claim === 'nbf') return new UnauthenticatedError('token is not valid yet', 'TOKEN_NOT_YET_VALID');
    return new UnauthenticatedError(`token claim "${error.claim}" is missing or invalid`, 'INVALID_CLAIMS');
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed || error instanceof joseErrors.JWKSNoMatchingKey) {
    return new UnauthenticatedError('token signature is not valid', 'BAD_SIGNATURE');
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return new UnauthenticatedError('token algorithm is not accepted', 'BAD_SIGNATURE');
  return new UnauthenticatedError('token is malformed', 'MALFORMED_TOKEN');
}
