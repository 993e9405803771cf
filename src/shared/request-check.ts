/**
 * The request-checking kernel of both services. A handler checks every field
 * of a request with one RequestCheck, which collects every bad field and then
 * throws one InvalidArgumentError naming them all, so a client fixes its
 * request in one round. Ids, bounded text, whole units, decimals (the one
 * grammar of src/shared/decimal.ts), timestamps, page sizes and idempotency
 * keys are checked here and only here; the services add their own limits.
 */
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { parseDecimal, Decimal, type DecimalRule, type DecimalValue } from './decimal.js';
import { InvalidArgumentError, quoteInput, type FieldViolation } from './errors.js';
import { checkIdempotencyKey } from './idempotency.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Control characters (C0, DEL, C1) never belong in names, ids or references;
// free text may break lines.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROL_EXCEPT_LINE_BREAKS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/** Microseconds since 1970-01-01 UTC, PostgreSQL's timestamp precision. */
import { ORIGIN, unsealPosition, type Position } from '../db/position.js';
import type { Micros } from './time.js';
export type { Micros };

/** 9999-12-31T23:59:59.999999Z, the last instant both PostgreSQL and RFC 3339 print. */
const MICROS_MAX = 253_402_300_799_999_999n;

export interface TextRule {
  readonly min: number;
  /** In characters (code points), as PostgreSQL's char_length counts them. */
  readonly max: number;
  /** Free text may contain tabs and line breaks. */
  readonly free_text?: boolean;
  /** Names and ids: no leading or trailing white space. */
  readonly trimmed?: boolean;
}

export interface PageSizeRule {
  readonly default_size: number;
  readonly max_size: number;
}

export class RequestCheck {
  private readonly violations: FieldViolation[] = [];
  private reason: string | undefined;

  /** Records a bad field; the first specific `reason` becomes the error's reason. */
  fail(field: string, description: string, reason?: string): void {
    this.violations.push({ field, description });
    if (reason !== undefined && reason !== 'INVALID_ARGUMENT' && this.reason === undefined) this.reason = reason;
  }

  /** A rule that spans fields. */
  require(condition: boolean, field: string, description: string, reason?: string): void {
    if (!condition) this.fail(field, description, reason);
  }

  text(field: string, value: string, rule: TextRule): string {
    // Length in code points without building an array of a huge value.
    const length = value.length > rule.max * 2 ? value.length : [...value].length;
    if (length < rule.min) this.fail(field, rule.min === 1 ? 'is required' : `must have at least ${rule.min} characters, got ${length}`);
    else if (length > rule.max) this.fail(field, `must have at most ${rule.max} characters, got ${length}`);
    else if ((rule.free_text ? CONTROL_EXCEPT_LINE_BREAKS : CONTROL).test(value)) this.fail(field, 'must not contain control characters');
    else if (rule.trimmed && value.trim() !== value) this.fail(field, 'must not start or end with white space');
    return value;
  }

  /** A required UUID, lower-cased so that equal ids compare equal. */
  id(field: string, value: string): string {
    if (value === '') this.fail(field, 'is required');
    else if (!UUID.test(value)) this.fail(field, `must be a UUID such as 3f2b6c1e-8a4d-4b7e-9c2a-5d1e0f6a7b8c, got ${quoteInput(value)}`);
    return value.toLowerCase();
  }

  /** A UUID or empty (no filter). */
  optionalId(field: string, value: string): string {
    return value === '' ? '' : this.id(field, value);
  }

  /** Whole units in [min, max]. */
  units(field: string, value: bigint, min: bigint, max: bigint): bigint {
    if (value < min || value > max) this.fail(field, `must be between ${min} and ${max} units, got ${value}`);
    return value;
  }

  decimal(field: string, text: string, rule: DecimalRule): DecimalValue {
    return this.collect(() => parseDecimal(field, text, rule)) ?? new Decimal(0);
  }

  /** Empty means none. */
  optionalDecimal(field: string, text: string, rule: DecimalRule): DecimalValue | null {
    return text === '' ? null : this.decimal(field, text, rule);
  }

  idempotencyKey(field: string, key: string): string | undefined {
    return this.collect(() => checkIdempotencyKey(field, key));
  }

  /**
   * A timestamp as microseconds (finer digits are dropped), between 1970 and
   * the year 10000, and not after `latest_ms` when given.
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
    } else if (micros > MICROS_MAX) this.fail(field, 'must be before the year 10000');
    return micros;
  }

  /**
   * The paths of an update mask (AIP-134), each one of `allowed`; "*" means
   * all of them. Unknown paths are refused, never ignored.
   */
  maskPaths<Name extends string>(field: string, paths: readonly string[], allowed: readonly Name[]): Name[] {
    const names = allowed as readonly string[];
    this.require(paths.length > 0, field, `is required: name the fields to change (${allowed.join(', ')}, or *)`);
    if (paths.includes('*')) return [...allowed];
    for (const path of paths) this.require(names.includes(path), field, `path ${quoteInput(path)} cannot be changed; use ${allowed.join(', ')} or *`);
    return [...new Set(paths.filter((path): path is Name => names.includes(path)))];
  }

  /** page_size: 0 means the default; larger than the cap is reduced to it (AIP-158). */
  pageSize(field: string, value: number, rule: PageSizeRule): number {
    if (!Number.isInteger(value) || value < 0) this.fail(field, `must not be negative, got ${value}`);
    if (!(value > 0)) return rule.default_size;
    return Math.min(value, rule.max_size);
  }

  /**
   * after_position of a ledger poll (src/db/position.ts): undefined when
   * the field is absent (the list pages instead), the origin when empty.
   */
  pollPosition(request: { afterPosition?: string; pageToken: string }): Position | undefined {
    const text = request.afterPosition;
    if (text === undefined) return undefined;
    this.require(request.pageToken === '', 'page_token', 'must be empty with after_position (poll on with last_position)');
    if (text === '') return ORIGIN;
    return this.collect(() => unsealPosition('after_position', text)) ?? ORIGIN;
  }

  /** @throws InvalidArgumentError naming every bad field found so far. */
  done(): void {
    if (this.violations.length === 0) return;
    throw new InvalidArgumentError(this.violations, this.reason ?? 'INVALID_ARGUMENT', {
      field: this.violations[0].field,
      violationCount: String(this.violations.length),
    });
  }

  /** Runs a check that throws InvalidArgumentError and records its violations instead. */
  private collect<T>(check: () => T): T | undefined {
    try {
      return check();
    } catch (error) {
      if (!(error instanceof InvalidArgumentError)) throw error;
      for (const violation of error.violations) this.fail(violation.field, violation.description, error.reason);
      return undefined;
    }
  }
}

/** Checks a request with `build` and returns what it built, or throws for every bad field. */
export function checked<T>(build: (check: RequestCheck) => T): T {
  const check = new RequestCheck();
  const result = build(check);
  check.done();
  return result;
}
