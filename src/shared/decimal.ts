/**
 * Quantities and money cross the wire as decimal strings and live in NUMERIC
 * columns. This module is the one place that turns those strings into
 * decimal.js values: input with more places than allowed is refused, never
 * rounded, so a total is always the exact sum of what callers sent.
 */
import { Decimal } from 'decimal.js';
import { InvalidArgumentError } from './errors.js';

// Precision well above NUMERIC(18,4) products so that qty × cost is exact.
const ExactDecimal = Decimal.clone({ precision: 60, rounding: Decimal.ROUND_HALF_EVEN, toExpNeg: -60, toExpPos: 60 });
export { ExactDecimal as Decimal };
export type DecimalValue = InstanceType<typeof ExactDecimal>;

const DECIMAL_PATTERN = /^[+-]?(\d+)(?:\.(\d+))?$/;

export interface DecimalRule {
  /** Most digits allowed after the point. */
  readonly scale: number;
  /** Most digits allowed before the point; keeps values inside their NUMERIC column. */
  readonly integer_digits: number;
  readonly sign: 'positive' | 'non_negative' | 'any_non_zero' | 'any';
}

/** Parts quantities: NUMERIC(18,3). */
export const PART_QUANTITY: DecimalRule = { scale: 3, integer_digits: 15, sign: 'positive' };
/** Parts unit costs: NUMERIC(18,4). */
export const UNIT_COST: DecimalRule = { scale: 4, integer_digits: 14, sign: 'non_negative' };

/**
 * Parses a decimal string for the named request field.
 * @throws InvalidArgumentError naming the field when the text is not a plain
 *   decimal, has too many places, is too large, or has the wrong sign.
 */
export function parseDecimal(field: string, text: string, rule: DecimalRule): DecimalValue {
  const match = DECIMAL_PATTERN.exec(text.trim());
  if (text === '' || !match) {
    throw InvalidArgumentError.field(field, `must be a decimal number such as "12.5", got "${text}"`);
  }
  const [, whole, fraction = ''] = match;
  if (fraction.length > rule.scale) {
    throw InvalidArgumentError.field(field, `has ${fraction.length} decimal places; at most ${rule.scale} are allowed (values are never rounded)`, 'TOO_MANY_DECIMAL_PLACES');
  }
  if (whole.replace(/^0+(?=\d)/, '').length > rule.integer_digits) {
    throw InvalidArgumentError.field(field, `is too large; at most ${rule.integer_digits} digits before the decimal point`);
  }
  const value = new ExactDecimal(text.trim());
  const sign = value.comparedTo(0);
  if (rule.sign === 'positive' && sign <= 0) throw InvalidArgumentError.field(field, 'must be greater than zero');
  if (rule.sign === 'non_negative' && sign < 0) throw InvalidArgumentError.field(field, 'must not be negative');
  if (rule.sign === 'any_non_zero' && sign === 0) throw InvalidArgumentError.field(field, 'must not be zero');
  return value;
}

/** Renders with exactly `scale` places, the way NUMERIC(p, scale) prints it. */
export function formatDecimal(value: DecimalValue | string, scale: number): string {
  return new ExactDecimal(value).toFixed(scale);
}
