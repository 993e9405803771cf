/**
 * Opaque page tokens for every list RPC of both services. A token carries
 * the position after the last row returned and a digest of the tenant, the
 * list and its filters, so it is refused by another tenant or with other
 * filters: it can never widen what a caller sees (RLS would stop that too).
 *
 * Clients cannot forge one: the token is signed with an HMAC keyed by a
 * server secret (configurePageTokens), and each cursor value is checked
 * against the type of its sort column before it is bound into SQL. A
 * tampered, truncated or foreign token is INVALID_ARGUMENT on page_token
 * (reason INVALID_PAGE_TOKEN), never a database error.
 *
 * Format: base64url(JSON {s: scope digest, c: cursor}) "." base64url(HMAC-SHA256)[16 bytes].
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { InvalidArgumentError } from './errors.js';
import { fingerprint } from './idempotency.js';

export interface PageScope {
  readonly tenant_id: string;
  /** Names the list, e.g. `inventory.items`, `parts.movements`. */
  readonly list: string;
  /** The request's filters (without page size and token). */
  readonly filter: unknown;
}

/** Position after the last row of a page: the values of the list's sort key, as strings. */
export type Cursor = readonly string[];

/**
 * The type of each sort-key column, checked on every decoded value:
 * `text` (any string up to 1,000 characters), `uuid`, `integer` (int8 in
 * decimal digits), `timestamp` (a timestamptz as PostgreSQL prints it).
 */
export type CursorColumn = 'text' | 'uuid' | 'integer' | 'timestamp';

const TOKEN_LENGTH_MAX = 2_048;
const MAC_BYTES = 16;
const COLUMN_PATTERNS: Record<CursorColumn, RegExp> = {
  text: /^[^\u0000]{0,1000}$/,
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  integer: /^-?[0-9]{1,19}$/,
  timestamp: /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:\d{2})?|Z)$/,
};

// A fresh key per process until configured: tokens then work on this
// replica only, and a client given another replica's token starts again.
let signing_key: Buffer = randomBytes(32);

/**
 * Sets the server secret page tokens are signed with. Replicas that share
 * the secret accept each other's tokens.
 */
export function configurePageTokens(secret: string): void {
  signing_key = createHmac('sha256', 'stockroom page tokens').update(secret).digest();
}

function mac(payload: string): Buffer {
  return createHmac('sha256', signing_key).update(payload).digest().subarray(0, MAC_BYTES);
}

function scopeDigest(scope: PageScope): string {
  return fingerprint(`page:${scope.list}\0${scope.tenant_id}`, scope.filter).subarray(0, 16).toString('base64url');
}

export function encodePageToken(scope: PageScope, cursor: Cursor): string {
  const payload = Buffer.from(JSON.stringify({ s: scopeDigest(scope), c: cursor })).toString('base64url');
  return `${payload}.${mac(payload).toString('base64url')}`;
}

/**
 * Undefined for the first page (empty token).
 * @throws InvalidArgumentError (INVALID_PAGE_TOKEN, field page_token) for a
 *   token this server did not sign, or one of another tenant, list or filter.
 */
export function decodePageToken(token: string, scope: PageScope, columns: readonly CursorColumn[]): Cursor | undefined {
  if (token === '') return undefined;
  const invalid = () =>
    InvalidArgumentError.field('page_token', 'is not a token this list returned for these filters; start again with an empty token', 'INVALID_PAGE_TOKEN');
  const [payload, signature, extra] = token.length <= TOKEN_LENGTH_MAX ? token.split('.') : [];
  if (payload === undefined || signature === undefined || extra !== undefined) throw invalid();
  const presented = Buffer.from(signature, 'base64url');
  if (presented.length !== MAC_BYTES || !timingSafeEqual(presented, mac(payload))) throw invalid();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const { s, c } = (decoded ?? {}) as { s?: unknown; c?: unknown };
  if (s !== scopeDigest(scope) || !Array.isArray(c) || c.length !== columns.length) throw invalid();
  // Signed tokens hold what we wrote; the types are checked anyway, so a
  // leaked secret still cannot put a malformed value in front of SQL.
  if (!c.every((value, index) => typeof value === 'string' && COLUMN_PATTERNS[columns[index]].test(value))) throw invalid();
  return c as string[];
}

/** Splits rows fetched with LIMIT page_size + 1 into the page and the next token. */
export function pageOf<Row, T>(rows: readonly Row[], page_size: number, scope: PageScope, cursor: (row: Row) => Cursor, view: (row: Row) => T) {
  const more = rows.length > page_size;
  const page = more ? rows.slice(0, page_size) : rows;
  return {
    items: page.map(view),
    next_page_token: more ? encodePageToken(scope, cursor(page[page.length - 1])) : '',
  };
}
