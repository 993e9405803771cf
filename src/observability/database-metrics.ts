/**
 * The TransactionRunner's observer: database metrics, and the transaction
 * and statement spans when tracing is on. Children with fixed labels are
 * bound once, so an observed transaction costs a few increments.
 */
import type { CommittedCount, TransactionFailure, TransactionObserver, TransactionTrace } from '../db/transaction.js';
import type { Families } from './families.js';
import type { Count, Distribution } from './series.js';

/** Makes transaction spans; implemented by tracing.ts. */
export interface TransactionTracer {
  traceTransaction(read_only: boolean): TransactionTrace;
}

export class DatabaseMetrics implements TransactionObserver {
  private readonly outcomes;
  private readonly retry_reasons;
  private readonly acquire: Distribution;
  private readonly lock_timeouts: Count;
  private readonly statement_timeouts: Count;
  private readonly deadline_cancels: Count;

  constructor(
    private readonly families: Families,
    private readonly tracer: TransactionTracer | undefined,
  ) {
    this.outcomes = {
      commit: families.transactions.series('commit'),
      rollback: families.transactions.series('rollback'),
      retry: families.transactions.series('retry'),
    };
    this.retry_reasons = {
      deadlock: families.retries.series('deadlock'),
      serialization_failure: families.retries.series('serialization_failure'),
    };
    this.acquire = families.acquire.series();
    this.lock_timeouts = families.lock_timeouts.series();
    this.statement_timeouts = families.statement_timeouts.series();
    this.deadline_cancels = families.deadline_cancels.series();
  }

  connectionAcquired(wait_seconds: number): void {
    this.acquire.observe(wait_seconds);
  }

  attemptEnded(outcome: 'commit' | 'rollback' | 'retry', failure: TransactionFailure | undefined, counted: readonly CommittedCount[] | undefined): void {
    this.outcomes[outcome].value++;
    if (failure === 'deadlock' || failure === 'serialization_failure') {
      if (outcome === 'retry') this.retry_reasons[failure].value++;
    } else if (failure === 'lock_timeout') {
      this.lock_timeouts.value++;
    } else if (failure === 'statement_timeout') {
      this.statement_timeouts.value++;
    }
    if (counted !== undefined) for (const count of counted) this.countCommitted(count);
  }

  backendCancelled(): void {
    this.deadline_cancels.value++;
  }

  traceTransaction(read_only: boolean): TransactionTrace | undefined {
    return this.tracer?.traceTransaction(read_only);
  }

  private countCommitted({ counter, grpc_service, label, by }: CommittedCount): void {
    const { families } = this;
    switch (counter) {
      case 'stock_movements':
        families.movements.series(grpc_service, label).value += by;
        break;
      case 'idempotent_replays':
        families.replays.series(grpc_service, label).value += by;
        break;
      case 'holds_expired':
        families.holds_expired.series(grpc_service).value += by;
        break;
      case 'events_written':
        families.events_written.series(grpc_service, label).value += by;
        break;
      case 'events_relayed':
        families.events_relayed.series().value += by;
        break;
    }
  }
}
