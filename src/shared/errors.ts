/**
 * Errors the domain raises, free of any transport. The server maps each kind
 * to exactly one gRPC status with one google.rpc.ErrorInfo (src/server/errors.ts),
 * so a new kind of failure needs a class here, not a status code in a service.
 *
 * Every message is written for the caller: no SQL, no database text.
 * Metadata keys are lowerCamel and carry every number the message mentions.
 */

export interface FieldViolation {
  /** Path of the offending request field, e.g. `items[2].quantity`. */
  readonly field: string;
  readonly description: string;
}

/** One product or part that is short, with the numbers a client acts on. */
export interface Shortage {
  /** The caller's key for the thing that is short: product id or part number. */
  readonly key: string;
  /** Internal id of the item or part, when known. */
  readonly id?: string;
  /** Where it is short (parts only): a location id. */
  readonly location_id?: string;
  readonly requested: string;
  readonly available: string;
}

export type Metadata = Record<string, string>;

/** Most characters of one client value that an error quotes. */
export const INPUT_ECHO_CHARS_MAX = 64;

/**
 * The one place that bounds client input repeated in an error (messages,
 * BadRequest descriptions, ErrorInfo metadata): the first `max` characters
 * and, when cut, the original length, e.g. `abc… (1048576 chars)`. Errors
 * travel in HTTP/2 trailers, which clients cap at 8 KiB or less, so an
 * unbounded echo turns a clear INVALID_ARGUMENT into a broken stream.
 */
export function capInput(value: string, quote = false, max = INPUT_ECHO_CHARS_MAX): string {
  const whole = value.length <= max;
  // Never split a surrogate pair: the cut text must still be valid UTF-16.
  const shown = whole ? value : value.slice(0, /[\uD800-\uDBFF]/.test(value[max - 1]) ? max - 1 : max);
  const text = quote ? JSON.stringify(shown) : shown;
  return whole ? text : `${text}… (${value.length} chars)`;
}

/** Client input quoted in a message: capped, in quotes, control characters escaped. */
export function quoteInput(value: string): string {
  return capInput(value, true);
}

export abstract class DomainError extends Error {
  abstract readonly kind:
    | 'invalid_argument'
    | 'not_found'
    | 'already_exists'
    | 'failed_precondition'
    | 'aborted'
    | 'unauthenticated'
    | 'permission_denied'
    | 'unavailable'
    | 'resource_exhausted';

  protected constructor(
    message: string,
    /** UPPER_SNAKE_CASE, stable: clients switch on it. */
    readonly reason: string,
    readonly metadata: Metadata = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad input; nothing was looked up or changed. Names every bad field. */
export class InvalidArgumentError extends DomainError {
  readonly kind = 'invalid_argument';
  constructor(
    readonly violations: readonly FieldViolation[],
    reason = 'INVALID_ARGUMENT',
    metadata: Metadata = {},
  ) {
    super(violations.map((v) => `${v.field}: ${v.description}`).join('; '), reason, metadata);
  }

  static field(field: string, description: string, reason = 'INVALID_ARGUMENT'): InvalidArgumentError {
    return new InvalidArgumentError([{ field, description }], reason, { field });
  }
}

export class NotFoundError extends DomainError {
  readonly kind = 'not_found';
  /**
   * @param resource_type e.g. `item`, `part`; becomes the reason `ITEM_NOT_FOUND`.
   * @param resource_name the identifier the caller used.
   */
  constructor(
    readonly resource_type: string,
    readonly resource_name: string,
    readonly field?: string,
  ) {
    super(
      `${resource_type} ${quoteInput(resource_name)} not found`,
      `${resource_type.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_NOT_FOUND`,
      { resourceType: resource_type, resourceName: capInput(resource_name) },
    );
  }
}

export class AlreadyExistsError extends DomainError {
  readonly kind = 'already_exists';
  constructor(
    readonly resource_type: string,
    readonly resource_name: string,
  ) {
    super(
      `${resource_type} ${quoteInput(resource_name)} already exists`,
      `${resource_type.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_ALREADY_EXISTS`,
      { resourceType: resource_type, resourceName: capInput(resource_name) },
    );
  }
}

/** A rule of the system is broken by this request in the current state; retrying as is will fail again. */
export class FailedPreconditionError extends DomainError {
  readonly kind = 'failed_precondition';
  constructor(message: string, reason: string, metadata: Metadata = {}) {
    super(message, reason, metadata);
  }
}

/** Not enough stock for one or more lines; carries every short line with its numbers. */
export class InsufficientStockError extends FailedPreconditionError {
  /**
   * @param key_name the ErrorInfo metadata key for `Shortage.key` in this
   *   service's vocabulary: `productId` (inventory) or `partNumber` (parts).
   */
  constructor(
    readonly shortages: readonly Shortage[],
    key_name: 'productId' | 'partNumber',
  ) {
    const first = shortages[0];
    const text = shortages.map((s) => `${s.key}: requested ${s.requested}, available ${s.available}`).join('; ');
    // ErrorInfo metadata holds flat strings: the first short line in full and
    // the count; the typed detail carries all of them.
    const metadata: Metadata = { shortCount: String(shortages.length) };
    if (first) {
      metadata[key_name] = first.key;
      metadata.requested = first.requested;
      metadata.available = first.available;
      if (first.location_id) metadata.locationId = first.location_id;
    }
    super(`insufficient stock: ${text}`, 'INSUFFICIENT_STOCK', metadata);
  }
}

/** A conflict with concurrent work; the whole call may be retried. */
export class AbortedError extends DomainError {
  readonly kind = 'aborted';
  constructor(message: string, reason: 'LOCK_TIMEOUT' | 'DEADLOCK' | 'SERIALIZATION_FAILURE' | 'STATEMENT_TIMEOUT' | 'CONCURRENT_REQUEST', metadata: Metadata = {}) {
    super(message, reason, metadata);
  }
}

export class UnauthenticatedError extends DomainError {
  readonly kind = 'unauthenticated';
  constructor(message: string, reason = 'UNAUTHENTICATED') {
    super(message, reason);
  }
}

export class PermissionDeniedError extends DomainError {
  readonly kind = 'permission_denied';
  constructor(required_role: string, method: string) {
    super(`role "${required_role}" is required for ${method}`, 'MISSING_ROLE', { requiredRole: required_role, method });
  }
}

export class UnavailableError extends DomainError {
  readonly kind = 'unavailable';
  constructor(message: string, reason = 'SHUTTING_DOWN') {
    super(message, reason);
  }
}

/**
 * Programmer errors: an invariant that code, not input, must keep. Kept apart
 * from DomainError on purpose; it maps to INTERNAL and is logged in full.
 */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

/** The caller used up a bounded resource (a stream's buffer); the metadata says how to go on. */
export class ResourceExhaustedError extends DomainError {
  readonly kind = 'resource_exhausted';
  constructor(message: string, reason: string, metadata: Metadata = {}) {
    super(message, reason, metadata);
  }
}
