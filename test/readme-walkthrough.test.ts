/**
 * The README cannot drift: every command of its "Walkthroughs with real
 * output" section runs, as pasted, against a real server on a fresh embedded
 * PostgreSQL, and its output must equal the README's, ids and times aside.
 * Each walkthrough runs in one bash session (so `TOKEN=…` and ids kept in
 * variables carry on) against its own server, started with the settings of
 * its `npm start` line (STOCKROOM_HOLD_SWEEP_INTERVAL_MS, say); `npx buf`
 * runs the buf binary directly to save npx's start-up, and the README's port
 * is swapped for a free one. The README's `npm start &` and `kill %1` lines
 * are the test's own start and stop.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRegistry, fromBinary, toJson } from '@bufbuild/protobuf';
import { file_google_rpc_error_details } from '../gen/google/rpc/error_details_pb.js';
import { file_stockroom_inventory_v1_error_details } from '../gen/stockroom/inventory/v1/error_details_pb.js';
import { file_stockroom_parts_v1_error_details } from '../gen/stockroom/parts/v1/error_details_pb.js';
import { freePort } from '../src/db/embedded-postgres.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const DATA_DIR = path.join(ROOT, `.data/test-readme-${process.pid}`);

interface Step {
  readonly command: string;
  readonly expected: string;
}

interface Walkthrough {
  readonly title: string;
  /** The README's port for this walkthrough; empty when it starts no server of its own. */
  readonly port: string;
  /** The settings its `npm start` line gives, but the port and data folder, which the test picks. */
  readonly env: Record<string, string>;
  readonly steps: Step[];
}

/** The ```console blocks of each walkthrough: `$ ` commands (with `\` continuations) and the output after each. */
export function walkthroughs(readme: string): Walkthrough[] {
  const section = readme.slice(readme.indexOf('## Walkthroughs with real output'));
  const body = section.slice(0, section.indexOf('\n## ', 10));
  return body
    .split(/\n### /)
    .slice(1)
    .map((part) => {
      const title = part.slice(0, part.indexOf('\n'));
      const steps: Step[] = [];
      for (const block of part.matchAll(/```console\n([\s\S]*?)```/g)) {
        const lines = block[1].replace(/\n$/, '').split('\n');
        for (let at = 0; at < lines.length; ) {
          if (!lines[at].startsWith('$ ')) throw new Error(`${title}: output without a command: ${lines[at]}`);
          let command = lines[at++].slice(2);
          while (command.endsWith('\\')) command = `${command}\n${lines[at++]}`;
          const output: string[] = [];
          while (at < lines.length && !lines[at].startsWith('$ ')) output.push(lines[at++]);
          steps.push({ command, expected: output.join('\n') });
        }
      }
      const port = /STOCKROOM_PORT=(\d+)/.exec(part)?.[1] ?? '';
      const start = steps.find((step) => /npm start/.test(step.command))?.command ?? '';
      const env = Object.fromEntries(
        [...start.matchAll(/\b(STOCKROOM_\w+)=(\S+)/g)].filter(([, name]) => name !== 'STOCKROOM_PORT' && name !== 'STOCKROOM_EMBEDDED_DATA_DIR').map(([, name, value]) => [name, value]),
      );
      return { title, port, env, steps };
    });
}

const DETAILS = createRegistry(file_google_rpc_error_details, file_stockroom_inventory_v1_error_details, file_stockroom_parts_v1_error_details);

/**
 * An error as buf curl prints it, with each detail's bytes decoded (buf
 * curl shows them as base64), so that the README's details are checked too.
 */
function decodedDetails(text: string): string {
  let error: { details?: { type: string; value: unknown }[] };
  try {
    error = JSON.parse(text);
  } catch {
    return text;
  }
  if (!Array.isArray(error?.details)) return text;
  for (const detail of error.details) {
    const schema = DETAILS.getMessage(detail.type);
    if (schema && typeof detail.value === 'string') detail.value = toJson(schema, fromBinary(schema, Buffer.from(detail.value, 'base64')));
  }
  return JSON.stringify(error, null, 2);
}

/** Ids, server times, page tokens and positions differ run to run. */
function normalized(text: string): string {
  return decodedDetails(text.trim())
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
    // Times the server stamps (…Time); dates a request gave (receivedDate) stay.
    .replace(/("[a-zA-Z]*Time": )"[^"]*"/g, '$1"<time>"')
    // Messages may quote a server time too (a hold's expire time).
    .replace(/^(\s*"message": ".*)$/gm, (line) => line.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z/g, '<time>'))
    // Signed tokens (JWTs) carry their issue time.
    .replace(/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g, '<jwt>')
    // Page tokens are opaque and encrypted per server.
    .replace(/("nextPageToken": )"[^"]+"/g, '$1"<token>"')
    // Positions follow the cluster's transaction counter (events) or are sealed per server (movements).
    .replace(/("(?:position|lastPosition|resumePosition)": )"[^"]+"/g, '$1"<position>"')
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .trim();
}

async function startServer(port: number, data_dir: string, settings: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(path.join(ROOT, 'node_modules/.bin/node'), ['dist/src/main.js'], {
    cwd: ROOT,
    env: { ...process.env, ...settings, STOCKROOM_PORT: String(port), STOCKROOM_EMBEDDED_DATA_DIR: data_dir, STOCKROOM_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  for (let waited_ms = 0; ; waited_ms += 100) {
    const answer = await fetch(`http://127.0.0.1:${port}/grpc.health.v1.Health/Check`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
      .then((response) => response.json() as Promise<{ status?: string }>)
      .catch(() => undefined);
    if (answer?.status === 'SERVING') return child;
    if (waited_ms > 60_000 || child.exitCode !== null) throw new Error(`the server did not start:\n${output}`);
    await sleep(100);
  }
}

/** Runs the steps in one bash session; the output of each, as the README shows it (stdout and stderr). */
function runInOneShell(steps: readonly Step[], port: string, test_port: number): Promise<string[]> {
  const marker = (n: number) => `<<<readme-step-${n}>>>`;
  const script = [
    'set +e',
    `npx() { if [ "$1" = buf ]; then shift; "${path.join(ROOT, 'node_modules/.bin/buf')}" "$@"; else command npx "$@"; fi; }`,
    ...steps.flatMap((step, n) => [`echo '${marker(n)}'`, `{ ${step.command.replaceAll(port, String(test_port))}\n} 2>&1`]),
    `echo '${marker(steps.length)}'`,
  ].join('\n');
  return new Promise((resolve, reject) => {
    const bash = spawn('bash', ['-c', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    bash.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    bash.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    bash.on('error', reject);
    // The README's port again where the output names the server's address (the console link).
    bash.on('close', () => resolve(steps.map((_, n) => output.slice(output.indexOf(marker(n)) + marker(n).length, output.indexOf(marker(n + 1))).replaceAll(`127.0.0.1:${test_port}`, `127.0.0.1:${port}`))));
  });
}

const SERVER_LIFECYCLE = /npm start|^kill %1/;

// Commands may leave files in the checkout (the detail decoding writes *.binpb, each walkthrough its
// own names since they run at once); afterAll removes what was not there.
const BEFORE = new Set(fs.readdirSync(ROOT));
function tidy(): void {
  for (const name of fs.readdirSync(ROOT)) if (!BEFORE.has(name) && name.endsWith('.binpb')) fs.rmSync(path.join(ROOT, name), { force: true });
}

const servers: ChildProcess[] = [];
beforeAll(() => fs.rmSync(DATA_DIR, { recursive: true, force: true }));
afterAll(async () => {
  await Promise.all(
    servers
      .filter((server) => server.exitCode === null)
      .map((server) => {
        const exited = new Promise((resolve) => server.once('exit', resolve));
        server.kill('SIGTERM');
        return exited;
      }),
  );
  tidy();
  fs.rmSync(DATA_DIR, { recursive: true, force: true });
});

const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/**
 * STOCKROOM_README_UPDATE=1: writes the real output into the README where it
 * differs (beyond ids and times), for a reviewer to read in the diff;
 * STOCKROOM_README_UPDATE=all writes every output (a fresh capture).
 */
function updateReadme(title: string, steps: readonly Step[], outputs: readonly string[]): void {
  let readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  let cursor = readme.indexOf(`### ${title}\n`);
  steps.forEach((step, n) => {
    const at = readme.indexOf(`$ ${step.command}\n`, cursor);
    cursor = at + 1;
    if (process.env.STOCKROOM_README_UPDATE !== 'all' && normalized(outputs[n]) === normalized(step.expected)) return;
    const from = at + step.command.length + 3;
    if (at < 0 || readme.slice(from, from + step.expected.length) !== step.expected) return;
    const output = outputs[n].replace(/^\n/, '').trimEnd();
    // An empty output in the README is no line at all; a new one needs its line end.
    readme = readme.slice(0, from) + (step.expected === '' ? `${output}\n` : output) + readme.slice(from + step.expected.length);
  });
  fs.writeFileSync(path.join(ROOT, 'README.md'), readme);
}

/**
 * A walkthrough is run when it is self-contained: it starts its server
 * (`npm start`) and mints its token. One that continues from an earlier
 * state ("started … as in the walkthroughs above") is documentation only.
 */
function selfContained(walkthrough: Walkthrough): boolean {
  return walkthrough.port !== '' && walkthrough.steps.some((step) => /npm start/.test(step.command)) && walkthrough.steps.some((step) => step.command.includes('npm run token'));
}

test('every walkthrough is self-contained, so every one is run', () => {
  expect(walkthroughs(README).map((walkthrough) => [walkthrough.title, selfContained(walkthrough)])).toEqual([
    [expect.stringMatching(/^Inventory/), true],
    [expect.stringMatching(/^Parts/), true],
    [expect.stringMatching(/^Holds/), true],
  ]);
});

test('walkthroughs run at once, so no two write the same file', () => {
  const written = walkthroughs(README).flatMap((walkthrough) => [...new Set(walkthrough.steps.flatMap((step) => [...step.command.matchAll(/> *([\w.-]+)/g)].map((match) => match[1])))]);
  expect(written.filter((name) => name !== '/dev/null' && written.indexOf(name) !== written.lastIndexOf(name))).toEqual([]);
});

/**
 * The walkthroughs run at once, each on its own server and database as the
 * README starts them (ids from database sequences then match the README's),
 * so the file stays well under 30 s.
 */
const WALKTHROUGHS = walkthroughs(README).filter(selfContained);
const runs = new Map<string, Promise<{ steps: Step[]; outputs: string[] }>>();
function run(walkthrough: Walkthrough): Promise<{ steps: Step[]; outputs: string[] }> {
  let running = runs.get(walkthrough.title);
  if (running === undefined) {
    const steps = walkthrough.steps.filter((step) => !SERVER_LIFECYCLE.test(step.command));
    const data_dir = path.join(DATA_DIR, String(WALKTHROUGHS.indexOf(walkthrough)));
    running = (async () => {
      const test_port = await freePort();
      servers.push(await startServer(test_port, data_dir, walkthrough.env));
      const outputs = await runInOneShell(steps, walkthrough.port, test_port);
      return { steps, outputs };
    })();
    runs.set(walkthrough.title, running);
  }
  return running;
}

describe.each(WALKTHROUGHS.map((walkthrough) => [walkthrough.title, walkthrough] as const))('README walkthrough: %s', (_title, walkthrough) => {
  test('every command prints what the README shows (ids and times aside)', async () => {
    for (const each of WALKTHROUGHS) void run(each).catch(() => {});
    const { steps, outputs } = await run(walkthrough);
    if (process.env.STOCKROOM_README_UPDATE) updateReadme(walkthrough.title, steps, outputs);
    steps.forEach((step, n) => {
      const shown = { command: step.command, output: normalized(step.expected) };
      expect({ command: step.command, output: normalized(outputs[n]) }).toEqual(shown);
    });
  });
});

/** A ```sh example's commands (`\` continuations joined) and the `# output` comment under each, if any. */
function shExamples(readme: string): { command: string; shown?: string }[] {
  const commands: { command: string; shown?: string }[] = [];
  for (const block of readme.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const lines = block[1].split('\n');
    for (let at = 0; at < lines.length; at++) {
      const line = lines[at];
      if (line.trim() === '') continue;
      if (line.startsWith('# ')) {
        if (commands.length > 0 && /^# https?:\/\//.test(line)) commands[commands.length - 1].shown = line.slice(2);
        continue;
      }
      let command = line;
      while (command.endsWith('\\')) command = `${command}\n${lines[++at]}`;
      commands.push({ command });
    }
  }
  return commands;
}

/** Examples the test does not run, and why. */
const NOT_RUN: readonly [RegExp, string][] = [
  [/^grpcurl /, 'grpcurl is not installed here (buf curl, which is, runs the same calls in the walkthroughs)'],
  [/^npm (install|test)\b|npm start\b/, 'installs, or starts what the test starts itself'],
  [/^npx buf curl .*\/WatchEvents$/s, 'a stream that stays open until interrupted (test/events*.test.ts watch it)'],
  [/^nats /, 'the nats CLI is not installed here'],
  [/^npm run migrate\b|^export STOCKROOM_/, 'needs an external PostgreSQL (db.internal)'],
];

test('every ```sh example that can run against a server runs against one (grpcurl, nats, a stream left open and external-database lines aside)', async () => {
  const examples = shExamples(README).map((example) => ({ ...example, skipped: NOT_RUN.find(([pattern]) => pattern.test(example.command))?.[1] }));
  const runnable = examples.filter((example) => example.skipped === undefined);
  expect(runnable.map((example) => example.command.split(' ').slice(0, 3).join(' '))).toEqual([
    'TOKEN=$(npm run token',
    'npx buf curl',
    'curl -s -H',
    'npm run token',
    'npm run token',
    'TOKEN=$(npm run token',
  ]);
  const port = await freePort();
  servers.push(await startServer(port, path.join(DATA_DIR, 'sh-examples'), {}));
  const steps = runnable.map((example) => ({ command: `${example.command}; echo "<exit $?>"`, expected: '' }));
  const outputs = await runInOneShell(steps, '50051', port);
  runnable.forEach((example, n) => {
    const output = outputs[n].trim();
    expect({ command: example.command, exit: /<exit (\d+)>$/.exec(output)?.[1] }).toEqual({ command: example.command, exit: '0' });
    if (example.shown !== undefined) expect(output).toContain(example.shown.replace(/\.\.\.$/, ''));
  });
  expect(outputs[1]).toContain('stockroom.inventory.v1.InventoryService/Reserve');
  // The token the first example keeps authenticates the curl call: SKU-1 is unknown (grpcurl made it), not the caller.
  expect(JSON.parse(outputs[2].trim().replace(/<exit \d+>$/, ''))).toMatchObject({ code: 'not_found' });
  process.stdout.write(`\`\`\`sh examples not run:\n${examples.filter((example) => example.skipped).map((example) => `  ${example.command.split('\n')[0]}: ${example.skipped}`).join('\n')}\n`);
});
