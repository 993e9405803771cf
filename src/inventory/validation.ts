/**
 * Input checks at the boundary. Every refusal names the request field
 * (`items[2].quantity`) and all bad fields of a request are reported at once,
 * so a client fixes its request in one round.
 */
import { InvalidArgumentError, type FieldViolation } from '../shared/errors.js';
import { LIMITS } from './limits.js';
import type { OrderLine } from './model.js';

// Control characters have no place in ids, references or names; free text may break lines.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROL_EXCEPT_LINE_BREAKS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface TextRule {
  readonly min: number;
  readonly max: number;
  /** Free text may contain tabs and line breaks. */
  readonly free_text?: boolean;
}

export const TEXT = {
  product_id: { min: 1, max: LIMITS.product_id_length_max },
  sku: { min: 0, max: LIMITS.sku_length_max },
  name: { min: 1, max: LIMITS.name_length_max },
  order_reference: { min: 1, max: LIMITS.reference_length_max },
  optional_reference: { min: 0, max: LIMITS.reference_length_max },
  notes: { min: 0, max: LIMITS.notes_length_max, free_text: true },
  reason: { min: 1, max: LIMITS.reason_length_max, free_text: true },
} satisfies Record<string, TextRule>;

/** Collects violations; `done()` throws them together. */
export class Checks {
  private readonly violations: FieldViolation[] = [];

  fail(field: string, description: string): void {
    this.violations.push({ field, description });
  }

  text(field: string, value: string, rule: TextRule): string {
    const length = [...value].length; // characters, as char_length() counts them
    if (length < rule.min || length > rule.max) {
      this.fail(field, rule.min > 0 ? `must be ${rule.min} to ${rule.max} characters, got ${length}` : `must be at most ${rule.max} characters, got ${length}`);
    } else if ((rule.free_text ? CONTROL_EXCEPT_LINE_BREAKS : CONTROL).test(value)) {
      this.fail(field, 'must not contain control characters');
    }
    return value;
  }

  /** Whole units in [min, max]. */
  units(field: string, value: bigint, min: bigint, max: bigint): bigint {
    if (value < min || value > max) this.fail(field, `must be between ${min} and ${max} units, got ${value}`);
    return value;
  }

  quantity(field: string, value: bigint): bigint {
    return this.units(field, value, 1n, LIMITS.quantity_max);
  }

  uuid(field: string, value: string): string {
    if (!UUID.test(value)) this.fail(field, `must be a UUID such as 3f2b6c1e-8a4d-4b7e-9c2a-5d1e0f6a7b8c, got "${value.slice(0, 64)}"`);
    return value.toLowerCase();
  }

  /** Order lines: `min_lines` to the request limit, each with a product id and a positive quantity. */
  lines(field: string, lines: readonly { productId: string; quantity: bigint }[], min_lines: number): OrderLine[] {
    if (lines.length < min_lines || lines.length > LIMITS.lines_per_request) {
      this.fail(field, `must have ${min_lines} to ${LIMITS.lines_per_request} lines, got ${lines.length}`);
      return [];
    }
    return lines.map((line, index) => ({
      product_id: this.text(`${field}[${index}].product_id`, line.productId, TEXT.product_id),
      quantity: this.quantity(`${field}[${index}].quantity`, line.quantity),
    }));
  }

  /** page_size: 0 means the default; larger than the cap is reduced to it (AIP-158). */
  pageSize(field: string, value: number): number {
    if (value < 0) this.fail(field, `must not be negative, got ${value}`);
    if (value <= 0) return LIMITS.page_size_default;
    return Math.min(value, LIMITS.page_size_max);
  }

  done(): void {
    if (this.violations.length > 0) {
      throw new InvalidArgumentError(this.violations, 'INVALID_ARGUMENT', {
        field: this.violations[0].field,
        violationCount: String(this.violations.length),
      });
    }
  }
}
