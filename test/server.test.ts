/**
 * The house itself, through real clients over real HTTP/2: reflection and
 * health for operators, limits, shutdown, and configuration errors.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import * as grpc from '@grpc/grpc-js';
import { Health, HealthCheckResponse_ServingStatus } from '../gen/grpc/health/v1/health_pb.js';
import { InventoryService } from '../gen/stockroom/inventory/v1/inventory_service_pb.js';
import { PartsService } from '../gen/stockroom/parts/v1/parts_service_pb.js';
import { call, errorDetails, serviceConstructor, startStockroom, type TestStockroom } from './support/harness.js';

const ROOT = path.resolve(import.meta.dirname, '..');

function listServices(address: string): Promise<string[]> {
  const Reflection = serviceConstructor('grpc.reflection.v1.ServerReflection');
  const client = new Reflection(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const stream = (client as any).serverReflectionInfo();
    stream.on('data', (response: any) => {
      resolve(response.listServicesResponse.service.map((s: { name: string }) => s.name));
      stream.end();
      client.close();
    });
    stream.on('error', reject);
    stream.write({ host: '', listServices: '' });
  });
}

describe('server', () => {
  let stockroom: TestStockroom;
  beforeAll(async () => {
    stockroom = await startStockroom({ STOCKROOM_MAX_MESSAGE_BYTES: '65536' });
  });
  afterAll(() => stockroom.close());

  test('reflection lists health, both reflection services and every Stockroom service', async () => {
    const services = await listServices(stockroom.address);
    expect(services).toEqual(
      expect.arrayContaining([
        'grpc.health.v1.Health',
        'grpc.reflection.v1.ServerReflection',
        'grpc.reflection.v1alpha.ServerReflection',
      ]),
    );
    const names = [InventoryService.typeName, PartsService.typeName];
    expect(services).toEqual(expect.arrayContaining(names));
  });

  test('health answers SERVING to grpc-js and to a Connect client, without a token', async () => {
    const health = stockroom.grpcClient('grpc.health.v1.Health');
    await expect(call(health, 'check', { service: '' })).resolves.toEqual({ status: 'SERVING' });

    const connect = createClient(Health, createConnectTransport({ baseUrl: stockroom.url, httpVersion: '1.1' }));
    expect((await connect.check({ service: '' })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    const grpc_web = createClient(Health, createGrpcTransport({ baseUrl: stockroom.url }));
    expect((await grpc_web.check({ service: '' })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  test('a method the server does not have is UNIMPLEMENTED', async () => {
    const client = new grpc.Client(stockroom.address, grpc.credentials.createInsecure());
    const error = await new Promise<grpc.ServiceError>((resolve) =>
      client.makeUnaryRequest(
        '/stockroom.inventory.v1.InventoryService/NoSuchMethod',
        (value: Buffer) => value,
        (value: Buffer) => value,
        Buffer.alloc(0),
        (err) => resolve(err as grpc.ServiceError),
      ),
    );
    client.close();
    expect(error.code).toBe(grpc.status.UNIMPLEMENTED);
  });

  test('a message over the size limit is refused with RESOURCE_EXHAUSTED', async () => {
    const health = stockroom.grpcClient('grpc.health.v1.Health');
    const error = await call(health, 'check', { service: 'x'.repeat(100_000) }).catch((e) => e);
    expect(errorDetails(error).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  test('grpc-js clients read error messages as written, punctuation and non-ASCII included', async () => {
    const inventory = stockroom.grpcClient('stockroom.inventory.v1.InventoryService');
    const error = await call(inventory, 'getItem', { productId: 'x' }).catch((e) => e);
    expect(errorDetails(error).message).toBe('missing authorization header; send "authorization: Bearer <token>"');
  });

  test('JSON over HTTP/1.1 works on the same port (curl)', async () => {
    const response = await fetch(`${stockroom.url}/grpc.health.v1.Health/Check`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'SERVING' });
  });
});

describe('shutdown', () => {
  test('turns health NOT_SERVING, refuses new calls with UNAVAILABLE, lets the call in flight finish', async () => {
    const stockroom = await startStockroom();
    const Reflection = serviceConstructor('grpc.reflection.v1.ServerReflection');
    const reflection = new Reflection(stockroom.address, grpc.credentials.createInsecure());
    // An open reflection stream is a call in flight that we end when we choose.
    const in_flight = (reflection as any).serverReflectionInfo();
    const first_answer = new Promise((resolve) => in_flight.once('data', resolve));
    in_flight.write({ host: '', listServices: '' });
    await first_answer;
    const in_flight_ended = new Promise<void>((resolve) => in_flight.on('end', resolve).on('error', () => resolve()));
    in_flight.on('data', () => {});

    const stopped = stockroom.close();
    const health = stockroom.grpcClient('grpc.health.v1.Health');
    await expect(call(health, 'check', { service: '' })).resolves.toEqual({ status: 'NOT_SERVING' });

    const refused = await new Promise<grpc.ServiceError>((resolve) => {
      const stream = (reflection as any).serverReflectionInfo();
      stream.on('error', resolve);
      stream.on('data', () => {});
      stream.write({ host: '', listServices: '' });
    });
    expect(refused.code).toBe(grpc.status.UNAVAILABLE);

    in_flight.end();
    await in_flight_ended;
    await stopped;
    reflection.close();
  });
});

describe('configuration', () => {
  function run(environment: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'dist/src/main.js')], {
        env: { PATH: process.env.PATH ?? '', ...environment },
        cwd: ROOT,
      });
      let stderr = '';
      let stdout = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.on('exit', (code) => resolve({ code, stderr, stdout }));
    });
  }

  test('a bad value stops the process with one line naming the variable', async () => {
    const result = await run({ STOCKROOM_PORT: 'fifty' });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual(['stockroom: invalid configuration: STOCKROOM_PORT must be a whole number, got "fifty"']);
  });

  test('an external database without a JWT key is refused', async () => {
    const result = await run({ STOCKROOM_DATABASE_URL: 'postgresql://127.0.0.1:1/none' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/STOCKROOM_JWT_SECRET/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
