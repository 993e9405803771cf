/**
 * Opaque page tokens for every list RPC of both services. A token carries
 * the position after the last row returned and a digest of the tenant, the
 * list and its filters, so it is refused by another tenant or with other
 * filters: it can never widen what a caller sees (RLS would stop that too).
 */
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

const TOKEN_LENGTH_MAX = 2_048;

function scopeDigest(scope: PageScope): string {
  return fingerprint(`page:${scope.list}\0${scope.tenant_id}`, scope.filter).subarray(0, 16).toString('base64url');
}

export function encodePageToken(scope: PageScope, cursor: Cursor): string {
  return Buffer.from(JSON.stringify({ s: scopeDigest(scope), c: cursor })).toString('base64url');
}

/**
 * Undefined for the first page (empty token).
 * @throws InvalidArgumentError (INVALID_PAGE_TOKEN) for a token of another tenant, list or filter.
 */
export function decodePageToken(token: string, scope: PageScope, cursor_length: number): Cursor | undefined {
  if (token === '') return undefined;
  const invalid = () =>
    InvalidArgumentError.field('page_token', 'is not a token this list returned for these filters; start again with an empty token', 'INVALID_PAGE_TOKEN');
  if (token.length > TOKEN_LENGTH_MAX) throw invalid();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const { s, c } = (decoded ?? {}) as { s?: unknown; c?: unknown };
  if (s !== scopeDigest(scope) || !Array.isArray(c) || c.length !== cursor_length) throw invalid();
  if (!c.every((value) => typeof value === 'string')) throw invalid();
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
