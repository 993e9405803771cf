/**
 * `npm run token`'s admin console link names the server's real address: the
 * same STOCKROOM_HOST / STOCKROOM_PORT / TLS settings the server reads, or
 * --url when the browser reaches it elsewhere (a proxy, another machine).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const CLI = path.join(ROOT, 'dist/src/tools/token-cli.js');
const ARGS = ['--tenant', 'acme', '--role', 'admin', '--sub', 'alice'];

function link(env: Record<string, string>, ...extra: string[]): string {
  return execFileSync(process.execPath, [CLI, ...ARGS, '--link', ...extra], { env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8' }).trim();
}

test('the link follows STOCKROOM_HOST and STOCKROOM_PORT, as the server does (50051 only by default)', () => {
  expect(link({})).toMatch(/^http:\/\/127\.0\.0\.1:50051\/admin\/#token=eyJ/);
  expect(link({ STOCKROOM_PORT: '50061' })).toMatch(/^http:\/\/127\.0\.0\.1:50061\/admin\/#token=eyJ/);
  // A wildcard listen address is reached on loopback; IPv6 hosts are bracketed.
  expect(link({ STOCKROOM_HOST: '0.0.0.0', STOCKROOM_PORT: '8080' })).toMatch(/^http:\/\/127\.0\.0\.1:8080\/admin\/#token=/);
  expect(link({ STOCKROOM_HOST: '::1', STOCKROOM_PORT: '8080' })).toMatch(/^http:\/\/\[::1\]:8080\/admin\/#token=/);
});

test('--url sets the link base (its origin; a path is dropped), over the settings', () => {
  expect(link({ STOCKROOM_PORT: '50061' }, '--url', 'https://stock.example.com:8443/anything')).toMatch(/^https:\/\/stock\.example\.com:8443\/admin\/#token=eyJ/);
  // Without --link the token alone is on stdout and the link on stderr.
  const plain = spawnSync(process.execPath, [CLI, ...ARGS, '--url', 'http://127.0.0.1:50071'], { encoding: 'utf8', env: { PATH: process.env.PATH! } });
  expect(plain.stdout).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
  expect(plain.stderr).toBe(`admin console: http://127.0.0.1:50071/admin/#token=${plain.stdout.trim()}\n`);
});

test('a --url that is not an http(s) URL is refused with exit 2 and one line', () => {
  for (const url of ['ftp://example.com', '127.0.0.1:50051', '']) {
    const refused = spawnSync(process.execPath, [CLI, ...ARGS, '--url', url], { encoding: 'utf8', env: { PATH: process.env.PATH! } });
    expect(refused.status).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^token: --url must be an http or https URL.*\n$/);
  }
});
