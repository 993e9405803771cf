/**
 * Opaque page tokens for every list RPC of both services. A token carries
 * the position after the last row returned and a digest of the tenant, the
 * list and its filters, so it is refused by another tenant or with other
 * filters: it can never widen what a caller sees (RLS would stop that too).
 *
 * Clients can neither forge nor read one: the token is encrypted and
 * authenticated (AES-256-GCM) with a key derived from a server secret
 * (configurePageTokens), and each cursor value is checked against the type
 * of its sort column before it is bound into SQL. Cursors hold internal
 * keys (a ledger row's bigint id, a cluster-wide counter), which a readable
 * token would show to the client. A tampered, truncated or foreign token is
 * INVALID_ARGUMENT on page_token (reason INVALID_PAGE_TOKEN), never a
 * database error.
 *
 * Format: base64url(12-byte nonce, AES-256-GCM of JSON {s: scope digest, c: cursor}, 16-byte tag).
 *
 * The same secret keys sealBlock, the one-block cipher of the ledgers'
 * positions (src/db/position.ts).
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, type Cipher, type Decipher } from 'node:crypto';
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
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const BLOCK_BYTES = 16;
const COLUMN_PATTERNS: Record<CursorColumn, RegExp> = {
  text: /^[^\u0000]{0,1000}$/,
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  integer: /^-?[0-9]{1,19}$/,
  timestamp: /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:\d{2})?|Z)$/,
};

// Fresh keys per process until configured: tokens and positions then work
// on this replica only, and a client given another replica's starts again.
let token_key: Buffer = randomBytes(32);
let block_key: Buffer = randomBytes(32);

/**
 * Sets the server secret page tokens and positions are keyed with. Replicas
 * that share the secret accept each other's.
 */
export function configurePageTokens(secret: string): void {
  token_key = createHmac('sha256', 'stockroom page tokens').update(secret).digest();
  block_key = createHmac('sha256', 'stockroom positions').update(secret).digest();
}

function seal(plain: Buffer): string {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', token_key, nonce);
  const sealed = Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  return sealed.toString('base64url');
}

/** Undefined unless `token` is what seal() returned with this key. */
function open(token: string): Buffer | undefined {
  const sealed = Buffer.from(token, 'base64url');
  if (sealed.length < NONCE_BYTES + TAG_BYTES || sealed.toString('base64url') !== token) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', token_key, sealed.subarray(0, NONCE_BYTES));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
}

/**
 * 16 bytes as 22 base64url characters, encrypted as one AES-256 block:
 * deterministic (one position, one string), unreadable without the key.
 * Not authenticated: a changed string opens to random bytes, which the
 * caller checks, and which at worst start a reader elsewhere in the
 * caller's own rows.
 */
export function sealBlock(block: Buffer): string {
  return blockCiphers().seal.update(block).toString('base64url');
}

/**
 * One cipher each way per key, reused: a block cipher in ECB without
 * padding keeps no state between whole blocks, so update() of one block is
 * that block's encryption, and final() is never needed. (A cipher made per
 * position was about 2% of the server's CPU on CommitOutbound.)
 */
let block_ciphers: { key: Buffer; seal: Cipher; open: Decipher } | undefined;

function blockCiphers(): { seal: Cipher; open: Decipher } {
  if (block_ciphers?.key !== block_key) {
    block_ciphers = {
      key: block_key,
      seal: createCipheriv('aes-256-ecb', block_key, null).setAutoPadding(false),
      open: createDecipheriv('aes-256-ecb', block_key, null).setAutoPadding(false),
    };
  }
  return block_ciphers;
}

/** Undefined unless `text` is 22 base64url characters. */
export function openBlock(text: string): Buffer | undefined {
  const sealed = Buffer.from(text, 'base64url');
  if (sealed.length !== BLOCK_BYTES || sealed.toString('base64url') !== text) return undefined;
  return blockCiphers().open.update(sealed);
}

function scopeDigest(scope: PageScope): string {
  return fingerprint(`page:${scope.list}\0${scope.tenant_id}`, scope.filter).subarray(0, 16).toString('base64url');
}

export function encodePageToken(scope: PageScope, cursor: Cursor): string {
  return seal(Buffer.from(JSON.stringify({ s: scopeDigest(scope), c: cursor })));
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
  const plain = token.length <= TOKEN_LENGTH_MAX ? open(token) : undefined;
  if (plain === undefined) throw invalid();
  let decoded: unknown;
  try {
    decoded = JSON.parse(plain.toString('utf8'));
  } catch {
    throw invalid();
  }
  const { s, c } = (decoded ?? {}) as { s?: unknown; c?: unknown };
  if (s !== scopeDigest(scope) || !Array.isArray(c) || c.length !== columns.length) throw invalid();
  // Authenticated tokens hold what we wrote; the types are checked anyway, so a
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
