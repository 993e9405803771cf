/**
 * Order lines as the domain uses them: one per product, in order of first
 * appearance, so two lines for one product are checked as their sum.
 */
import { assert } from '../shared/errors.js';
import { LIMITS } from './limits.js';
import type { OrderLine } from './model.js';

export function mergeLines(lines: readonly OrderLine[]): OrderLine[] {
  const totals = new Map<string, bigint>();
  for (const line of lines) {
    assert(line.quantity > 0n && line.quantity <= LIMITS.quantity_max, `line quantity ${line.quantity} was not validated`);
    totals.set(line.product_id, (totals.get(line.product_id) ?? 0n) + line.quantity);
  }
  return [...totals].map(([product_id, quantity]) => ({ product_id, quantity }));
}

/** Request field of a product's first line, for NOT_FOUND. */
export function lineField(lines: readonly OrderLine[], product_id: string): string {
  return `items[${lines.findIndex((line) => line.product_id === product_id)}].product_id`;
}
