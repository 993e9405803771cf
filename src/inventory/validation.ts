/**
 * What inventory adds to the shared request-checking kernel
 * (src/shared/request-check.ts): its text rules, whole-unit quantities,
 * order lines and page size, with the bounds of limits.ts.
 */
import type { PageSizeRule, RequestCheck, TextRule } from '../shared/request-check.js';
import { LIMITS } from './limits.js';
import type { OrderLine } from './model.js';

export const TEXT = {
  product_id: { min: 1, max: LIMITS.product_id_length_max },
  sku: { min: 0, max: LIMITS.sku_length_max },
  name: { min: 1, max: LIMITS.name_length_max },
  order_reference: { min: 1, max: LIMITS.reference_length_max },
  optional_reference: { min: 0, max: LIMITS.reference_length_max },
  notes: { min: 0, max: LIMITS.notes_length_max, free_text: true },
  reason: { min: 1, max: LIMITS.reason_length_max, free_text: true },
} satisfies Record<string, TextRule>;

export const PAGE_SIZE: PageSizeRule = { default_size: LIMITS.page_size_default, max_size: LIMITS.page_size_max };

/** Units of one line or one receipt: 1 to quantity_max. */
export function quantity(check: RequestCheck, field: string, value: bigint): bigint {
  return check.units(field, value, 1n, LIMITS.quantity_max);
}

/** Order lines: `min_lines` to the request limit, each with a product id and a positive quantity. */
export function orderLines(check: RequestCheck, field: string, lines: readonly { productId: string; quantity: bigint }[], min_lines: number): OrderLine[] {
  if (lines.length < min_lines || lines.length > LIMITS.lines_per_request) {
    check.fail(field, `must have ${min_lines} to ${LIMITS.lines_per_request} lines, got ${lines.length}`);
    return [];
  }
  return lines.map((line, index) => ({
    product_id: check.text(`${field}[${index}].product_id`, line.productId, TEXT.product_id),
    quantity: quantity(check, `${field}[${index}].quantity`, line.quantity),
  }));
}
