/**
 * JSON that keeps decimal.js values, bigints and dates intact, so a stored
 * idempotent response decodes to exactly the value the first call returned.
 */
import { Decimal } from './decimal.js';

type Tagged = { $decimal: string } | { $bigint: string } | { $date: string };

export function encodeTaggedJson(value: unknown): string {
  return JSON.stringify(value, function replacer(this: Record<string, unknown>, key, current) {
    // `current` has already been through toJSON; look at the raw value.
    const raw = this[key];
    if (Decimal.isDecimal(raw)) return { $decimal: (raw as InstanceType<typeof Decimal>).toString() };
    if (typeof raw === 'bigint') return { $bigint: raw.toString() };
    if (raw instanceof Date) return { $date: raw.toISOString() };
    return current;
  });
}

export function decodeTaggedJson<T>(text: string): T {
  return JSON.parse(text, (_key, value: unknown) => {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const tagged = value as Partial<Record<'$decimal' | '$bigint' | '$date', string>> & Tagged;
      if ('$decimal' in tagged && tagged.$decimal !== undefined) return new Decimal(tagged.$decimal);
      if ('$bigint' in tagged && tagged.$bigint !== undefined) return BigInt(tagged.$bigint);
      if ('$date' in tagged && tagged.$date !== undefined) return new Date(tagged.$date);
    }
    return value;
  }) as T;
}
