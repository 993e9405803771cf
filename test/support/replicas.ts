/**
 * Built servers (`node dist/src/main.js`, as deployed) as separate processes
 * on the run's database, for tests of what holds across replicas.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { freePort } from '../../src/db/embedded-postgres.js';
import { call, serviceConstructor, testDatabaseUrl, TEST_AUDIENCE, TEST_ISSUER, TEST_JWT_SECRET } from './harness.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface Replica {
  readonly child: ChildProcess;
  readonly address: string;
  output: string;
}

/** The settings every replica gets (its port aside); the test's token settings match. */
export const REPLICA_ENVIRONMENT = {
  STOCKROOM_DATABASE_URL: testDatabaseUrl(),
  STOCKROOM_JWT_SECRET: TEST_JWT_SECRET,
  STOCKROOM_JWT_AUDIENCE: TEST_AUDIENCE,
  STOCKROOM_JWT_ISSUER: TEST_ISSUER,
  STOCKROOM_HOST: '127.0.0.1',
  STOCKROOM_LOG_LEVEL: 'warn',
  STOCKROOM_DATABASE_POOL_MAX: '4',
  STOCKROOM_SHUTDOWN_GRACE_MS: '1000',
};

export async function startReplica(environment: Record<string, string> = {}): Promise<Replica> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/src/main.js')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...REPLICA_ENVIRONMENT, ...environment, STOCKROOM_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const replica: Replica = { child, address: `127.0.0.1:${port}`, output: '' };
  const keep = (chunk: Buffer) => (replica.output = (replica.output + chunk.toString()).slice(-4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return replica;
}

export async function untilServing(replica: Replica): Promise<void> {
  const health = new (serviceConstructor('grpc.health.v1.Health'))(replica.address, grpc.credentials.createInsecure());
  try {
    for (const deadline = Date.now() + 60_000; ; ) {
      if (replica.child.exitCode !== null) throw new Error(`replica exited with ${replica.child.exitCode}:\n${replica.output}`);
      const status = await call(health, 'check', { service: '' }, undefined, { deadline_ms: 1_000 }).then((r) => r.status, () => undefined);
      if (status === 'SERVING') return;
      if (Date.now() > deadline) throw new Error(`replica not SERVING within 60 s:\n${replica.output}`);
      await sleep(200);
    }
  } finally {
    health.close();
  }
}

export async function stopReplica(replica: Replica): Promise<void> {
  if (replica.child.exitCode !== null) return;
  const exited = new Promise((resolve) => replica.child.once('exit', resolve));
  replica.child.kill('SIGTERM');
  const patience = new AbortController();
  await Promise.race([exited, sleep(10_000, undefined, { signal: patience.signal }).catch(() => {})]);
  patience.abort();
  if (replica.child.exitCode === null) replica.child.kill('SIGKILL');
}
