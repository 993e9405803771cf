/**
 * The admin console's files at /admin/ on the service port, over HTTP/1.1
 * (browsers without prior knowledge) and HTTP/2: content types, the
 * index.html fallback for client routes, cache headers, gzip, and nothing
 * outside dist/console. Needs `npm run build` (pretest) to have built it.
 */
import fs from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startStockroom, type TestStockroom } from './support/harness.js';

const DIST = path.resolve(import.meta.dirname, '../dist/console');
let stockroom: TestStockroom;

beforeAll(async () => {
  if (!fs.existsSync(path.join(DIST, 'index.html'))) throw new Error('dist/console is missing: run `npm run build` (npm test does it in pretest)');
  stockroom = await startStockroom();
});

afterAll(async () => {
  await stockroom?.close();
});

function scriptName(): string {
  return fs.readdirSync(path.join(DIST, 'assets')).find((file) => file.endsWith('.js'))!;
}

/** A raw HTTP/1.1 request, so paths reach the server exactly as written (no client-side normalisation). */
async function rawGet(target: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const socket = net.connect(stockroom.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const raw = Buffer.concat(chunks);
      const split = raw.indexOf('\r\n\r\n');
      const [status_line, ...lines] = raw.subarray(0, split).toString('latin1').split('\r\n');
      const parsed = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      resolve({ status: Number(status_line.split(' ')[1]), headers: parsed, body: raw.subarray(split + 4) });
    });
    const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
    socket.write(`GET ${target} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n${extra}\r\n`);
  });
}

test('index.html for /admin/ and for client routes, revalidated, with a strict CSP', async () => {
  for (const target of ['/admin/', '/admin/items/sku-1', '/admin/parts/abc?x=1']) {
    const response = await fetch(stockroom.url + target);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await response.text()).toContain('<div id="root">');
  }
  const redirect = await fetch(stockroom.url + '/admin', { redirect: 'manual' });
  expect(redirect.status).toBe(308);
  expect(redirect.headers.get('location')).toBe('/admin/');
});

test('hashed assets: right type, cached for good, gzipped when asked', async () => {
  const name = scriptName();
  const plain = await rawGet(`/admin/assets/${name}`);
  expect(plain.status).toBe(200);
  expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8');
  expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  expect(plain.headers['content-encoding']).toBeUndefined();
  const gzipped = await rawGet(`/admin/assets/${name}`, { 'accept-encoding': 'gzip, br' });
  expect(gzipped.headers['content-encoding']).toBe('gzip');
  expect(gunzipSync(gzipped.body).equals(plain.body)).toBe(true);
  const css = await fetch(`${stockroom.url}/admin/assets/${fs.readdirSync(path.join(DIST, 'assets')).find((file) => file.endsWith('.css'))}`);
  expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
  expect((await fetch(`${stockroom.url}/admin/assets/missing-0000.js`)).status).toBe(404);
});

test('nothing outside dist/console, however the path is spelled', async () => {
  for (const target of ['/admin/../package.json', '/admin/%2e%2e/%2e%2e/package.json', '/admin/..%2f..%2fpackage.json', '/admin/assets/..%5c..%5cpackage.json', '/admin/%00', '/admin/%E0%A4%A']) {
    const response = await rawGet(target);
    expect([400, 404]).toContain(response.status);
    expect(response.body.toString()).not.toContain('"name": "stockroom"');
  }
  const post = await fetch(stockroom.url + '/admin/', { method: 'POST', body: 'x' });
  expect(post.status).toBe(405);
});

test('the same files over HTTP/2 (prior knowledge), and the RPCs still answer beside them', async () => {
  const session = http2.connect(stockroom.url);
  try {
    const response = await new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
      const stream = session.request({ ':path': '/admin/operations', ':method': 'GET' });
      let body = '';
      let head: http2.IncomingHttpHeaders = {};
      stream.on('response', (headers) => (head = headers));
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => (body += chunk));
      stream.on('end', () => resolve({ status: Number(head[':status']), type: String(head['content-type']), body }));
      stream.on('error', reject);
      stream.end();
    });
    expect(response.status).toBe(200);
    expect(response.type).toBe('text/html; charset=utf-8');
    expect(response.body).toContain('<div id="root">');
  } finally {
    session.close();
  }
  const rpc = await fetch(`${stockroom.url}/grpc.health.v1.Health/Check`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  expect(await rpc.json()).toEqual({ status: 'SERVING' });
});
