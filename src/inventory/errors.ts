/**
 * Failures particular to inventory. Shortages use the shared
 * InsufficientStockError; these cover order references.
 */
import { FailedPreconditionError, quoteInput } from '../shared/errors.js';

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
    super(`reference ${quoteInput(reference)} holds less than requested: ${text}`, 'RESERVATION_EXCEEDED', {
      reference,
      productId: first?.product_id ?? '',
      requested: String(first?.requested ?? 0n),
      held: String(first?.held ?? 0n),
      exceededCount: String(lines.length),
    });
  }
}

export interface ExpiredLine {
  readonly product_id: string;
  /** Units the request named (0 for ExtendReservation). */
  readonly requested: bigint;
  /** Units still held and not expired. */
  readonly held: bigint;
  readonly expired: bigint;
  readonly expire_time: Date;
}

/**
 * A Release, CommitOutbound or ExtendReservation named units whose hold has
 * expired: they are no longer the reference's to ship or give back.
 */
export class ReservationExpiredError extends FailedPreconditionError {
  constructor(
    readonly reference: string,
    readonly lines: readonly ExpiredLine[],
  ) {
    const first = lines[0];
    const text = lines.map((l) => `${l.product_id}: ${l.expired} expired at ${l.expire_time.toISOString()}`).join('; ');
    super(`reference "${reference}" no longer holds these units, their hold expired: ${text}`, 'RESERVATION_EXPIRED', {
      reference,
      productId: first?.product_id ?? '',
      requested: String(first?.requested ?? 0n),
      held: String(first?.held ?? 0n),
      expired: String(first?.expired ?? 0n),
      expireTime: first?.expire_time.toISOString() ?? '',
      expiredCount: String(lines.length),
    });
  }
}
