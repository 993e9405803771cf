/**
 * Request checking for the parts handlers: ids, bounded text, decimals with
 * their scale, timestamps, page sizes. A RequestCheck collects every bad
 * field of a request and throws one InvalidArgumentError naming them all,
 * so a client fixes its request in one round.
 */
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { parseDecimal, Decimal, type DecimalRule, type DecimalValue } from '../shared/decimal.js';
import { InvalidArgumentError, type FieldViolation } from '../shared/errors.js';
import { checkIdempotencyKey } from '../shared/idempotency.js';
import { LIMITS } from './limits.js';
import type { Micros, PageRequest } from './model.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Control characters (C0, DEL, C1) never belong in names, ids or notes.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Quantities that may be zero (a count) or negative (an adjustment). */
export const COUNTED_QUANTITY: DecimalRule = { scale: 3, integer_digits: 15, sign: 'non_negative' };
export const QUANTITY_DELTA: DecimalRule = { scale: 3, integer_digits: 15, sign: 'any_non_zero' };

export interface TextRule {
  readonly min: number;
  readonly max: number;
  /** Names and ids: no leading or trailing white space. */
  readonly trimmed?: boolean;
}

/** The checks that build catalog fields (see MaskedCheck in the handler). */
export interface FieldCheck {
  text(field: string, value: string, rule: TextRule): string;
  optionalDecimal(field: string, text: string, rule: DecimalRule): DecimalValue | null;
}

export class RequestCheck implements FieldCheck {
  private readonly violations: FieldViolation[] = [];
  private reason: string | undefined;

  private fail(field: string, description: string, reason?: string): void {
    this.violations.push({ field, description });
    if (reason !== undefined && this.reason === undefined) this.reason = reason;
  }

  /** A required UUID, lower-cased so that equal ids compare equal. */
  id(field: string, value: string): string {
    if (value === '') this.fail(field, 'is required');
    else if (!UUID.test(value)) this.fail(field, `must be a UUID, got "${value.slice(0, 64)}"`);
    return value.toLowerCase();
  }

  /** A UUID or empty (no filter). */
  optionalId(field: string, value: string): string {
    return value === '' ? '' : this.id(field, value);
  }

  text(field: string, value: string, rule: TextRule): string {
    const length = [...value].length;
    if (length < rule.min) this.fail(field, rule.min === 1 ? 'is required' : `must have at least ${rule.min} characters`);
    else if (length > rule.max) this.fail(field, `must have at most ${rule.max} characters, got ${length}`);
    else if (CONTROL.test(value)) this.fail(field, 'must not contain control characters');
    else if (rule.trimmed && value.trim() !== value) this.fail(field, 'must not start or end with white space');
    return value;
  }

  workOrderId(field: string, value: string): string {
    return this.text(field, value, { min: 1, max: LIMITS.work_order_id_length_max, trimmed: true });
  }

  decimal(field: string, text: string, rule: DecimalRule): DecimalValue {
    try {
      return parseDecimal(field, text, rule);
    } catch (error) {
      if (!(error instanceof InvalidArgumentError)) throw error;
      for (const violation of error.violations) this.fail(violation.field, violation.description, error.reason === 'INVALID_ARGUMENT' ? undefined : error.reason);
      return new Decimal(0);
    }
  }

  /** Empty means none. */
  optionalDecimal(field: string, text: string, rule: DecimalRule): DecimalValue | null {
    return text === '' ? null : this.decimal(field, text, rule);
  }

  idempotencyKey(field: string, key: string): string | undefined {
    try {
      return checkIdempotencyKey(field, key);
    } catch (error) {
      if (!(error instanceof InvalidArgumentError)) throw error;
      for (const violation of error.violations) this.fail(violation.field, violation.description);
      return undefined;
    }
  }

  /**
   * A timestamp as microseconds (PostgreSQL's precision; finer digits are
   * dropped), between 1970 and `latest_ms` when given.
   */
  timestamp(field: string, value: Timestamp | undefined, latest_ms?: number): Micros | null {
    if (value === undefined) return null;
    if (value.nanos < 0 || value.nanos > 999_999_999) {
      this.fail(field, 'nanos must be between 0 and 999,999,999');
      return null;
    }
    const micros = value.seconds * 1_000_000n + BigInt(Math.floor(value.nanos / 1_000));
    if (micros < 0n) this.fail(field, 'must not be before 1970-01-01T00:00:00Z');
    else if (latest_ms !== undefined && micros > BigInt(latest_ms) * 1_000n) {
      this.fail(field, `must not be later than ${new Date(latest_ms).toISOString()}`);
    } else if (micros > 253_402_300_799_999_999n) this.fail(field, 'must be before the year 10000');
    return micros;
  }

  page(page_size: number, page_token: string): PageRequest {
    if (!Number.isInteger(page_size) || page_size < 0) this.fail('page_size', 'must not be negative');
    const size = page_size <= 0 ? LIMITS.page_size_default : Math.min(page_size, LIMITS.page_size_max);
    return { page_size: size, page_token };
  }

  /** A rule that spans fields. */
  require(condition: boolean, field: string, description: string, reason?: string): void {
    if (!condition) this.fail(field, description, reason);
  }

  /** @throws InvalidArgumentError naming every bad field found so far. */
  done(): void {
    if (this.violations.length === 0) return;
    const first = this.violations[0];
    throw new InvalidArgumentError(this.violations, this.reason ?? 'INVALID_ARGUMENT', { field: first.field });
  }
}

/** Checks a request with `build` and returns what it built, or throws for every bad field. */
export function checked<T>(build: (check: RequestCheck) => T): T {
  const check = new RequestCheck();
  const result = build(check);
  check.done();
  return result;
}
