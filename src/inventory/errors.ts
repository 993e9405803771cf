/**
 * Failures particular to inventory. Shortages use the shared
 * InsufficientStockError; these cover order references.
 */
import { FailedPreconditionError } from '../shared/errors.js';

export interface ExceededLine {
  readonly product_id: string;
  readonly requested: bigint;
  readonly held: bigint;
}

/**
 * A Release or CommitOutbound asked for more than the reference holds.
 * ErrorInfo metadata carries the first line; the typed detail carries all.
 */
export class ReservationExceededError extends FailedPreconditionError {
  constructor(
    readonly reference: string,
    readonly lines: readonly ExceededLine[],
  ) {
    const first = lines[0];
    const text = lines.map((l) => `${l.product_id}: requested ${l.requested}, held ${l.held}`).join('; ');
    super(`reference "${reference}" holds less than requested: ${text}`, 'RESERVATION_EXCEEDED', {
      reference,
      productId: first?.product_id ?? '',
      requested: String(first?.requested ?? 0n),
      held: String(first?.held ?? 0n),
      exceededCount: String(lines.length),
    });
  }
}
