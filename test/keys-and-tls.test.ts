/**
 * The deployment options beyond the defaults: public-key tokens from a JWKS
 * file (RS256/ES256) with custom claim names, and TLS on the same one port.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { exportJWK, exportPKCS8, generateKeyPair, SignJWT } from 'jose';
import { call, expectError, serviceConstructor, startStockroom, uniqueTenant } from './support/harness.js';

const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'stockroom-keys-'));
afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));

test('ES256 tokens verified against a JWKS file, with custom tenant and roles claims', async () => {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'key-1', alg: 'ES256', use: 'sig' };
  const jwks_file = path.join(directory, 'jwks.json');
  fs.writeFileSync(jwks_file, JSON.stringify({ keys: [jwk] }));
  const stockroom = await startStockroom({
    STOCKROOM_JWT_SECRET: '',
    STOCKROOM_JWT_JWKS: jwks_file,
    STOCKROOM_JWT_TENANT_CLAIM: 'https://example.com/org',
    STOCKROOM_JWT_ROLES_CLAIM: 'scope',
  });
  try {
    const tenant = uniqueTenant('jwks');
    const sign = (claims: Record<string, unknown>) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'key-1' })
        .setSubject('service-checkout')
        .setAudience(stockroom.config.auth.audience!)
        .setIssuer(stockroom.config.auth.issuer!)
        .setExpirationTime('10m')
        .sign(privateKey);
    const inventory = stockroom.grpcClient('stockroom.inventory.v1.InventoryService');
    const token = await sign({ 'https://example.com/org': tenant, scope: 'viewer operator' });
    await expect(call(inventory, 'listItems', {}, token)).resolves.toEqual(expect.objectContaining({ items: [] }));

    // An HS256 token, even with the right claims, is not accepted by a public-key setup.
    const hs256 = await new SignJWT({ 'https://example.com/org': tenant, scope: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('mallory')
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode('x'.repeat(48)));
    const refused = await expectError(call(inventory, 'listItems', {}, hs256));
    expect(refused.code).toBe(grpc.status.UNAUTHENTICATED);

    // `npm run token --private-key` signs with the same key pair.
    const { mintToken } = await import('../src/tools/token.js');
    const minted = await mintToken(stockroom.config.auth, {
      tenant,
      roles: ['viewer'],
      subject: 'operator-cli',
      private_key_pem: await exportPKCS8(privateKey),
      algorithm: 'ES256',
    });
    await expect(call(inventory, 'listItems', {}, minted)).resolves.toBeDefined();
  } finally {
    await stockroom.close();
  }
});

test('TLS on the same port: HTTP/2 for grpc-js and HTTP/1.1 by ALPN', async () => {
  const key_file = path.join(directory, 'key.pem');
  const cert_file = path.join(directory, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key_file, '-out', cert_file], { stdio: 'ignore' });
  const stockroom = await startStockroom({ STOCKROOM_TLS_CERT_FILE: cert_file, STOCKROOM_TLS_KEY_FILE: key_file });
  try {
    const Health = serviceConstructor('grpc.health.v1.Health');
    const health = new Health(stockroom.address, grpc.credentials.createSsl(fs.readFileSync(cert_file)));
    await expect(call(health, 'check', { service: '' })).resolves.toEqual({ status: 'SERVING' });
    health.close();

    const https = await import('node:https');
    const body = await new Promise<string>((resolve, reject) => {
      const request = https.request(
        { host: '127.0.0.1', port: stockroom.port, path: '/grpc.health.v1.Health/Check', method: 'POST', ca: fs.readFileSync(cert_file), servername: 'localhost', headers: { 'content-type': 'application/json' } },
        (response) => {
          let text = '';
          response.on('data', (chunk) => (text += chunk));
          response.on('end', () => resolve(text));
        },
      );
      request.on('error', reject);
      request.end('{}');
    });
    expect(JSON.parse(body)).toEqual({ status: 'SERVING' });
  } finally {
    await stockroom.close();
  }
});
