/**
 * Quantities and money cross the wire as decimal strings and live in NUMERIC
 * columns. This module is the one place that turns those strings into
 * decimal.js values: input with more places than allowed is refused, never
 * rounded, so a total is always the exact sum of what callers sent.
 */
import { Decimal } from 'decimal.js';
import { InvalidArgumentError, quoteInput } from './errors.js';

// Precision well above NUMERIC(18,4) products so that qty × cost is exact.
const ExactDecimal = Decimal.clone({ precision: 60, rounding: Decimal.ROUND_HALF_EVEN, toExpNeg: -60, toExpPos: 60 });
export { ExactDecimal as Decimal };
export type DecimalValue = InstanceType<typeof ExactDecimal>;

/**
 * The one decimal grammar of the API (README "Decimal strings"; the proto
 * comments state the same):
 *
 *     decimal = [ "-" ] ( "0" | nonzero-digit { digit } ) [ "." digit { digit } ]
 *
 * No white space, no "+", no leading zeros ("01.5"), no exponent, no bare
 * point ("1.", ".5"). Each field has a maximum scale (digits after the point)
 * and a maximum number of integer digits; a value beyond either is refused,
 * never rounded, so a total is always the exact sum of what callers sent.
 */
const DECIMAL_GRAMMAR = /^-?(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

/** Longer text cannot be a value of any column; refused before it is matched. */
const DECIMAL_TEXT_LENGTH_MAX = 40;

export interface DecimalRule {
  /** Most digits allowed after the point. */
  readonly scale: number;
  /** Most digits allowed before the point; keeps values inside their NUMERIC column. */
  readonly integer_digits: number;
  readonly sign: 'positive' | 'non_negative' | 'any_non_zero' | 'any';
}

/** Parts quantities: NUMERIC(18,3). */
export const PART_QUANTITY: DecimalRule = { scale: 3, integer_digits: 15, sign: 'positive' };
/** Counted parts quantities (a stock count may be zero). */
export const COUNTED_QUANTITY: DecimalRule = { scale: 3, integer_digits: 15, sign: 'non_negative' };
/** Parts adjustments: either sign, never zero. */
export const QUANTITY_DELTA: DecimalRule = { scale: 3, integer_digits: 15, sign: 'any_non_zero' };
/** Parts unit costs: NUMERIC(18,4). */
export const UNIT_COST: DecimalRule = { scale: 4, integer_digits: 14, sign: 'non_negative' };

const GRAMMAR_HINT = 'must be a decimal number such as "12.5" (digits, an optional "-" and point; no spaces, "+" or leading zeros)';

/**
 * Parses a decimal string for the named request field.
 * @throws InvalidArgumentError naming the field when the text does not follow
 *   the grammar, has too many places, is too large, or has the wrong sign.
 */
export function parseDecimal(field: string, text: string, rule: DecimalRule): DecimalValue {
  const match = text.length <= DECIMAL_TEXT_LENGTH_MAX ? DECIMAL_GRAMMAR.exec(text) : null;
  if (!match) throw InvalidArgumentError.field(field, `${GRAMMAR_HINT}, got ${quoteInput(text)}`);
  const [, whole, fraction = ''] = match;
  if (fraction.length > rule.scale) {
    throw InvalidArgumentError.field(field, `has ${fraction.length} decimal places; at most ${rule.scale} are allowed (values are never rounded)`, 'TOO_MANY_DECIMAL_PLACES');
  }
  if (whole.length > rule.integer_digits) {
    throw InvalidArgumentError.field(field, `is too large; at most ${rule.integer_digits} digits before the decimal point`);
  }
  const value = new ExactDecimal(text);
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
