/**
 * Opaque page tokens for the list RPCs. A token carries the position after
 * the last row returned and a digest of the tenant, the list and its
 * filters: a token is refused when used by another tenant or with other
 * filters, so it can never widen what a caller sees (and RLS would stop
 * that anyway).
 */
import { InvalidArgumentError } from '../shared/errors.js';
import { fingerprint } from '../shared/idempotency.js';

/** What a token is valid for. */
export interface PageScope {
  readonly tenant_id: string;
  /** e.g. `items`, `movements`. */
  readonly list: string;
  /** The request's filters (without page size and token). */
  readonly filter: unknown;
}

export type Cursor = Readonly<Record<string, string>>;

const TOKEN_LENGTH_MAX = 1_024;

function scopeDigest(scope: PageScope): string {
  return fingerprint(`page:${scope.list}\0${scope.tenant_id}`, scope.filter).subarray(0, 16).toString('base64url');
}

export function encodePageToken(scope: PageScope, cursor: Cursor): string {
  return Buffer.from(JSON.stringify({ s: scopeDigest(scope), c: cursor })).toString('base64url');
}

/** Undefined for the first page (empty token). */
export function decodePageToken(field: string, token: string, scope: PageScope): Cursor | undefined {
  if (token === '') return undefined;
  const invalid = () => InvalidArgumentError.field(field, 'is not a token this list returned for these filters; start again with an empty token', 'INVALID_PAGE_TOKEN');
  if (token.length > TOKEN_LENGTH_MAX) throw invalid();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const { s, c } = (decoded ?? {}) as { s?: unknown; c?: unknown };
  if (s !== scopeDigest(scope) || !c || typeof c !== 'object' || Array.isArray(c)) throw invalid();
  if (!Object.values(c).every((value) => typeof value === 'string')) throw invalid();
  return c as Cursor;
}
