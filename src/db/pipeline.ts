/**
 * Several statements sent to PostgreSQL as one pipeline: each one's Parse
 * (when not yet prepared on the connection), Bind, Describe and Execute, then
 * a single Sync, so they cost one round trip instead of one each. The
 * transaction runner sends BEGIN, its SET LOCALs and the transaction's first
 * statement this way (transaction.ts).
 *
 * PostgreSQL runs the steps in order; after the first error it skips the
 * rest until the Sync, so a step runs only if every step before it
 * succeeded (a COMMIT after a failed statement never runs). The answer is
 * the result of the last step that returns rows (BEGIN, SET and COMMIT do
 * not).
 *
 * This is a pg query object (one with `submit`): pg runs it on its
 * connection as it runs its own queries, and Kysely (the ORM's driver) hands
 * it to pg unchanged. It extends pg.Query for pg's handling of the answers
 * (one Result per statement, the error path); what differs is what it sends,
 * and that the statement pg is told about (`name`, `text`, which pg reads to
 * remember what a connection has prepared) is the step being answered.
 */
import pg from 'pg';
// pg's conversion of a bind value (arrays to array literals, dates, JSON), as its own queries use it.
import { prepareValue } from 'pg/lib/utils.js';

/** One statement of a pipeline; named ones are prepared once per connection. */
export interface PipelineStep {
  readonly text: string;
  readonly name?: string;
  readonly values?: readonly unknown[];
  /** Whether the step returns rows (a Describe is sent for it); SET and BEGIN do not. */
  readonly rows?: boolean;
}

/** What pg's connection object keeps per connection (pg/lib/connection.js). */
interface PgConnection {
  parsedStatements: Record<string, string>;
  submittedNamedStatements: Record<string, string>;
  stream: { cork?: () => void; uncork?: () => void };
  parse(query: { text: string; name?: string; types: unknown[] }): void;
  bind(config: { statement?: string; values?: readonly unknown[]; valueMapper: (value: unknown) => unknown }): void;
  describe(message: { type: 'P'; name: string }): void;
  execute(config: { portal: string; rows: number }): void;
  sync(): void;
}

/** pg.Query's handlers of the answers, which its type declarations leave out. */
interface AnswerHandlers {
  handleCommandComplete(message: unknown, connection: unknown): void;
  handleEmptyQuery(connection: unknown): void;
  handleError(error: Error, connection: unknown): void;
}
const query_handlers = pg.Query.prototype as unknown as AnswerHandlers;

/** Which server process answers on each pg connection, recorded once per connection (orm.ts). */
const backend_pids = new WeakMap<object, number>();

/**
 * A new connection's first statements, sent with a question for its backend
 * pid, which every later pipeline on the connection then knows without
 * asking (the transaction runner cancels a statement by it).
 */
export async function startSession(execute: (pipeline: Pipeline) => Promise<unknown>, steps: readonly PipelineStep[]): Promise<void> {
  const pipeline = new Pipeline([...steps, { text: 'select pg_backend_pid() as backend_pid', rows: true }]);
  await execute(pipeline);
  const { rows } = await pipeline;
  backend_pids.set(pipeline.connection!, rows[0].backend_pid);
}

export class Pipeline extends pg.Query implements PromiseLike<pg.QueryResult> {
  private readonly result: Promise<pg.QueryResult>;
  /** The step whose answers are arriving: one per CommandComplete (or EmptyQueryResponse) so far. */
  private answering = 0;
  /** pg's connection the pipeline was sent on, once sent. */
  connection: object | undefined;
  /** The step whose result is the answer. */
  private readonly answer_step: number;

  constructor(
    private readonly steps: readonly PipelineStep[],
    /** Told, as the pipeline goes out, which backend process runs it (undefined: not known on this connection). */
    private readonly on_sent?: (backend_pid: number | undefined) => void,
  ) {
    super({ text: '' });
    const with_rows = steps.findLastIndex((step) => step.rows === true);
    this.answer_step = with_rows >= 0 ? with_rows : steps.length - 1;
    this.result = new Promise((resolve, reject) => {
      (this as unknown as { callback: (error: Error | null, results: pg.QueryResult | pg.QueryResult[]) => void }).callback = (error, results) => {
        if (error) reject(error);
        else resolve(Array.isArray(results) ? results[this.answer_step] : results);
      };
    });
  }

  // pg reads these to record a statement as prepared when its ParseComplete
  // arrives, and to forget it when it fails: they name the step answering.
  // (pg.Query's constructor assigns them; those assignments are ignored.)
  get name(): string | undefined {
    return this.steps[this.answering]?.name;
  }
  set name(_ignored: string | undefined) {}
  get text(): string {
    return this.steps[this.answering]?.text ?? '';
  }
  set text(_ignored: string) {}

  then<A = pg.QueryResult, B = never>(
    fulfilled?: ((value: pg.QueryResult) => A | PromiseLike<A>) | null,
    rejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.result.then(fulfilled, rejected);
  }

  // pg.Query declares `submit` as a property; this is the same slot.
  override submit = (connection: pg.Connection): void => {
    this.sendAll(connection as unknown as PgConnection);
  };

  private sendAll(connection: PgConnection): void {
    this.connection = connection;
    connection.stream.cork?.();
    try {
      for (const step of this.steps) this.send(connection, step);
    } catch (error) {
      // A value pg cannot convert: what was written runs, then fails here.
      this.forgetUnparsed(connection, 0);
      (this as unknown as { _canceledDueToError: unknown })._canceledDueToError = error;
    } finally {
      connection.sync();
      connection.stream.uncork?.();
    }
    this.on_sent?.(backend_pids.get(connection));
  }

  private send(connection: PgConnection, step: PipelineStep): void {
    const prepared = step.name !== undefined && (connection.parsedStatements[step.name] ?? connection.submittedNamedStatements[step.name]);
    if (!prepared) {
      connection.parse({ text: step.text, name: step.name, types: [] });
      if (step.name !== undefined) connection.submittedNamedStatements[step.name] = step.text;
    }
    connection.bind({ statement: step.name, values: step.values ?? [], valueMapper: prepareValue });
    if (step.rows) connection.describe({ type: 'P', name: '' });
    connection.execute({ portal: '', rows: 0 });
  }

  handleCommandComplete(message: unknown, connection: unknown): void {
    query_handlers.handleCommandComplete.call(this, message, connection);
    this.answering++;
  }

  handleEmptyQuery(connection: unknown): void {
    query_handlers.handleEmptyQuery.call(this, connection);
    this.answering++;
  }

  handleError(error: Error, connection: unknown): void {
    // The steps after the failed one were skipped: none of their Parses ran.
    this.forgetUnparsed(connection as PgConnection, this.answering + 1);
    query_handlers.handleError.call(this, error, connection);
  }

  private forgetUnparsed(connection: PgConnection, from: number): void {
    for (const step of this.steps.slice(from)) {
      if (step.name !== undefined && connection.parsedStatements[step.name] === undefined) delete connection.submittedNamedStatements[step.name];
    }
  }
}
