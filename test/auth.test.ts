/**
 * Every RPC of both services refuses callers it must refuse, with the right
 * code, before anything is looked up: no token, an expired token, a bad
 * signature, a wrong audience, a missing role. With the right role the call
 * gets past authorization (whatever the empty request then earns).
 */
import type { DescMethod, DescService } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import { EventService } from '../gen/stockroom/events/v1/events_service_pb.js';
import { InventoryService } from '../gen/stockroom/inventory/v1/inventory_service_pb.js';
import { PartsService } from '../gen/stockroom/parts/v1/parts_service_pb.js';
import { METHOD_ROLES } from '../src/server/permissions.js';
import { ROLES, type Role } from '../src/shared/caller.js';
import { errorDetails, startStockroom, TEST_AUDIENCE, TEST_ISSUER, TEST_JWT_SECRET, uniqueTenant, type TestStockroom } from './support/harness.js';

const SERVICES: DescService[] = [InventoryService, PartsService, EventService];
const METHODS: [string, DescMethod][] = SERVICES.flatMap((service) => service.methods.map((method): [string, DescMethod] => [`${service.typeName}/${method.name}`, method]));

/** Sends an empty request (zero bytes: every field at its default) with the given token. */
function callEmpty(stockroom: TestStockroom, path: string, token?: string, deadline_ms = 20_000): Promise<grpc.ServiceError | undefined> {
  const client = new grpc.Client(stockroom.address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      `/${path}`,
      (value: Buffer) => value,
      (value: Buffer) => value,
      Buffer.alloc(0),
      metadata,
      { deadline: Date.now() + deadline_ms },
      (error) => {
        client.close();
        resolve(error ?? undefined);
      },
    );
  });
}

function sign(claims: Record<string, unknown>, options: { secret?: string; audience?: string; expires_at?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('mallory')
    .setIssuer(TEST_ISSUER)
    .setAudience(options.audience ?? TEST_AUDIENCE)
    .setIssuedAt(now - 7200)
    .setExpirationTime(options.expires_at ?? now + 600)
    .sign(new TextEncoder().encode(options.secret ?? TEST_JWT_SECRET));
}

/** A role set that is one step short of `required`. */
function rolesBelow(required: Role): Role[] {
  return ROLES.slice(0, ROLES.indexOf(required));
}

describe('authentication and authorization of every RPC', () => {
  let stockroom: TestStockroom;
  const tenant = uniqueTenant('auth');
  beforeAll(async () => {
    stockroom = await startStockroom();
  });
  afterAll(() => stockroom.close());

  test('the permission table lists every RPC of both services, and nothing else', () => {
    const listed = Object.keys(METHOD_ROLES).filter((name) => name.startsWith('stockroom.'));
    expect(listed.sort()).toEqual(METHODS.map(([name]) => name).sort());
    for (const [name] of METHODS) expect(ROLES).toContain(METHOD_ROLES[name]);
  });

  test.each(METHODS)('%s', async (path) => {
    const required = METHOD_ROLES[path] as Role;
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, string | undefined, grpc.status, string][] = [
      ['no token', undefined, grpc.status.UNAUTHENTICATED, 'MISSING_TOKEN'],
      ['expired token', await sign({ tenant, roles: ['admin'] }, { expires_at: now - 3600 }), grpc.status.UNAUTHENTICATED, 'TOKEN_EXPIRED'],
      ['bad signature', await sign({ tenant, roles: ['admin'] }, { secret: 'another-secret-another-secret-another-secret' }), grpc.status.UNAUTHENTICATED, 'BAD_SIGNATURE'],
      ['wrong audience', await sign({ tenant, roles: ['admin'] }, { audience: 'someone-else' }), grpc.status.UNAUTHENTICATED, 'WRONG_AUDIENCE'],
      ['missing role', await sign({ tenant, roles: rolesBelow(required) }), grpc.status.PERMISSION_DENIED, 'MISSING_ROLE'],
    ];
    for (const [label, token, code, reason] of cases) {
      const error = await callEmpty(stockroom, path, token);
      expect({ label, code: error?.code }).toEqual({ label, code });
      const decoded = errorDetails(error);
      expect(decoded.errorInfos).toHaveLength(1);
      expect({ label, reason: decoded.errorInfo?.reason }).toEqual({ label, reason });
      // Nothing about keys or secrets reaches the caller.
      expect(decoded.message).not.toMatch(/secret|key|HS256/i);
    }
    // A stream that got in (WatchEvents) stays open: its short deadline ends it.
    const streams = METHODS.find(([name]) => name === path)?.[1].methodKind === 'server_streaming';
    const allowed = await callEmpty(stockroom, path, await sign({ tenant, roles: [required] }), streams ? 1_000 : 20_000);
    expect([grpc.status.UNAUTHENTICATED, grpc.status.PERMISSION_DENIED]).not.toContain(allowed?.code);
  });

  test('a token without a tenant claim is refused', async () => {
    const error = await callEmpty(stockroom, 'stockroom.parts.v1.PartsService/ListParts', await sign({ roles: ['admin'] }));
    expect(error?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(errorDetails(error).errorInfo?.reason).toBe('INVALID_CLAIMS');
  });

  test('health and reflection need no token', async () => {
    expect(await callEmpty(stockroom, 'grpc.health.v1.Health/Check')).toBeUndefined();
  });
});

describe('reflection can be closed', () => {
  test('with STOCKROOM_REFLECTION_REQUIRES_AUTH, reflection needs a token', async () => {
    const stockroom = await startStockroom({ STOCKROOM_REFLECTION_REQUIRES_AUTH: 'true' });
    try {
      const client = new grpc.Client(stockroom.address, grpc.credentials.createInsecure());
      const error = await new Promise<grpc.ServiceError>((resolve) => {
        const stream = client.makeBidiStreamRequest(
          '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
          (value: Buffer) => value,
          (value: Buffer) => value,
        );
        stream.on('error', resolve);
        stream.on('data', () => {});
        stream.write(Buffer.from([0x3a, 0x00])); // list_services = ""
      });
      client.close();
      expect(error.code).toBe(grpc.status.UNAUTHENTICATED);
    } finally {
      await stockroom.close();
    }
  });
});
