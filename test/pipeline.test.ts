/**
 * Pipelines (src/db/pipeline.ts): several statements, one Sync, one round
 * trip. What a connection has prepared must stay exactly what PostgreSQL
 * has prepared, also when a step fails and PostgreSQL skips the rest; and
 * the transaction runner starts a transaction only with its first
 * statement.
 */
import pg from 'pg';
import { Pipeline } from '../src/db/pipeline.js';
import { connectionConfig } from '../src/db/session.js';
import { testDatabaseUrl } from './support/harness.js';

interface Prepared {
  parsedStatements: Record<string, string>;
  submittedNamedStatements: Record<string, string>;
}

async function send(client: pg.Client, pipeline: Pipeline): Promise<pg.QueryResult> {
  await client.query(pipeline);
  return pipeline;
}

function prepared(client: pg.Client): Prepared {
  return (client as unknown as { connection: Prepared }).connection;
}

describe('a pipeline', () => {
  let client: pg.Client;
  beforeEach(async () => {
    client = new pg.Client(connectionConfig(testDatabaseUrl()));
    await client.connect();
  });
  afterEach(() => client.end());

  it('answers with its last step, prepares its named steps once, and sends them unparsed the next time', async () => {
    const steps = [
      { text: 'begin' },
      { name: 'pipeline_test_one', text: 'select $1::int + 1 as n', values: [1], rows: true },
      { name: 'pipeline_test_two', text: 'select $1::text as t, $2::int[] as a', values: ['x', [1, 2]], rows: true },
    ];
    const first = await send(client, new Pipeline(steps));
    expect(first.rows).toEqual([{ t: 'x', a: [1, 2] }]);
    expect(prepared(client).parsedStatements).toMatchObject({ pipeline_test_one: steps[1].text, pipeline_test_two: steps[2].text });
    const again = await send(client, new Pipeline([{ ...steps[2], values: ['y', []] }]));
    expect(again.rows).toEqual([{ t: 'y', a: [] }]);
    await client.query('commit');
  });

  it('fails with the failing step; the steps after it were never prepared, and the connection goes on', async () => {
    const failing = new Pipeline([
      { text: 'begin' },
      { name: 'pipeline_test_ok', text: 'select 1 as one', rows: true },
      { name: 'pipeline_test_fails', text: 'select 1 / $1::int as boom', values: [0], rows: true },
      { name: 'pipeline_test_skipped', text: 'select 2 as two', rows: true },
    ]);
    await expect(send(client, failing)).rejects.toMatchObject({ code: '22012' });
    const state = prepared(client);
    expect(state.parsedStatements.pipeline_test_ok).toBeDefined();
    // Parsed before its Execute failed: prepared, and usable again.
    expect(state.parsedStatements.pipeline_test_fails).toBeDefined();
    // Skipped by PostgreSQL: not prepared, so its next use parses it.
    expect(state.parsedStatements.pipeline_test_skipped).toBeUndefined();
    expect(state.submittedNamedStatements.pipeline_test_skipped).toBeUndefined();
    await client.query('rollback');
    const after = await send(client, new Pipeline([{ name: 'pipeline_test_skipped', text: 'select 2 as two', rows: true }]));
    expect(after.rows).toEqual([{ two: 2 }]);
  });

  it('fails at a Parse without preparing that step or any after it', async () => {
    const failing = new Pipeline([
      { name: 'pipeline_test_bad', text: 'select from nowhere_at_all', rows: true },
      { name: 'pipeline_test_after_bad', text: 'select 3 as three', rows: true },
    ]);
    await expect(send(client, failing)).rejects.toMatchObject({ code: '42P01' });
    const state = prepared(client);
    for (const name of ['pipeline_test_bad', 'pipeline_test_after_bad']) {
      expect(state.parsedStatements[name]).toBeUndefined();
      expect(state.submittedNamedStatements[name]).toBeUndefined();
    }
    expect((await client.query('select 4 as four')).rows).toEqual([{ four: 4 }]);
  });
});
