/**
 * What the parts handlers add to the shared request-checking kernel
 * (src/shared/request-check.ts): the parts page size and the subset of checks
 * that build catalog fields.
 */
import type { DecimalRule, DecimalValue } from '../shared/decimal.js';
import type { RequestCheck, TextRule } from '../shared/request-check.js';
import { LIMITS } from './limits.js';
import type { PageRequest } from './model.js';

export { checked, type RequestCheck } from '../shared/request-check.js';

/** The checks that build catalog fields (see MaskedCheck in the handler). */
export interface FieldCheck {
  text(field: string, value: string, rule: TextRule): string;
  optionalDecimal(field: string, text: string, rule: DecimalRule): DecimalValue | null;
}

export function pageRequest(check: RequestCheck, page_size: number, page_token: string): PageRequest {
  const size = check.pageSize('page_size', page_size, { default_size: LIMITS.page_size_default, max_size: LIMITS.page_size_max });
  return { page_size: size, page_token };
}
