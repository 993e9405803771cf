/**
 * The one time representation of both services: microseconds since the
 * epoch as bigint, PostgreSQL's own resolution. A JavaScript Date holds
 * milliseconds, so a timestamptz read through one loses its last three
 * digits and two rows of one millisecond compare equal; selecting
 * microseconds in SQL keeps every digit and reads the same whatever the
 * session's DateStyle.
 */
import { create } from '@bufbuild/protobuf';
import { TimestampSchema, type Timestamp } from '@bufbuild/protobuf/wkt';
import { assert } from './errors.js';

export type Micros = bigint;

/** SQL: a timestamptz expression as microseconds since the epoch (int8). */
export function micros(column: string): string {
  return `(extract(epoch from ${column}) * 1000000)::int8`;
}

/** SQL: a parameter of microseconds since the epoch as a timestamptz. */
export function fromMicros(parameter: string): string {
  return `(timestamptz 'epoch' + ${parameter}::int8 * interval '1 microsecond')`;
}

/** A value selected with micros() (pg returns int8 as text). */
export function toMicros(text: string | bigint): Micros {
  return BigInt(text);
}

export function timestampFromMicros(value: Micros): Timestamp {
  const seconds = value / 1_000_000n;
  const rest = value % 1_000_000n;
  // Before 1970 the remainder is negative; Timestamp nanos never are.
  return rest < 0n
    ? create(TimestampSchema, { seconds: seconds - 1n, nanos: Number(rest + 1_000_000n) * 1_000 })
    : create(TimestampSchema, { seconds, nanos: Number(rest) * 1_000 });
}

// timestamptz as text in the session's pinned style (src/db/session.ts:
// DateStyle ISO, TimeZone UTC), e.g. `2026-11-26 04:20:00.123456+00`.
const PG_TIMESTAMPTZ = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?([+-]\d{2})(?::(\d{2}))?$/;

/**
 * A timestamptz as pg returns it (text) in microseconds, every digit kept;
 * a Date (an ORM entity's) has milliseconds only. Statements that can
 * select micros() should; this reads the columns that statements return
 * whole (RETURNING of a row, ORM entities).
 */
export function microsFromInstant(value: string | Date): Micros {
  if (value instanceof Date) {
    assert(!Number.isNaN(value.getTime()), 'unreadable timestamp (invalid Date)');
    return BigInt(value.getTime()) * 1_000n;
  }
  const match = PG_TIMESTAMPTZ.exec(value);
  assert(match !== null, `unreadable timestamp ${value}`);
  const [, date, time, fraction = '', hours, minutes = '00'] = match;
  const ms = Date.parse(`${date}T${time}${hours}:${minutes}`);
  assert(!Number.isNaN(ms), `unreadable timestamp ${value}`);
  return BigInt(ms) * 1_000n + BigInt(fraction.padEnd(6, '0'));
}

/** For messages and error details that carry a Date: milliseconds, rounded down. */
export function dateFromMicros(value: Micros): Date {
  return new Date(Number(value / 1_000n - (value % 1_000n < 0n ? 1n : 0n)));
}
