/**
 * The edge of issue 9, points 1-7, tried as clients in other languages would:
 * Connect JSON over HTTP/1.1 with fetch, protobuf binary over grpc-js with
 * hand-made bytes. Strict decoding, one error path with one ErrorInfo and
 * bounded trailers, one decimal grammar, unforgeable page tokens, and a fuzz
 * of every write RPC of both services.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { create, fromJson, toBinary, ScalarType, type DescMessage, type DescMethod, type JsonValue } from '@bufbuild/protobuf';
import { InventoryService } from '../gen/stockroom/inventory/v1/inventory_service_pb.js';
import { PartsService } from '../gen/stockroom/parts/v1/parts_service_pb.js';
import {
  call,
  connectJsonCall,
  errorDetails,
  errorTrailerBytes,
  expectError,
  newTenant,
  rawGrpcCall,
  startStockroom,
  tenantRowCounts,
  type TestStockroom,
} from './support/harness.js';

const INVENTORY = 'stockroom.inventory.v1.InventoryService';
const PARTS = 'stockroom.parts.v1.PartsService';
const ONE_MB = 1024 * 1024;

let stockroom: TestStockroom;
let inventory: grpc.Client;
let parts: grpc.Client;

beforeAll(async () => {
  stockroom = await startStockroom();
  inventory = stockroom.grpcClient(INVENTORY);
  parts = stockroom.grpcClient(PARTS);
});

afterAll(async () => {
  await stockroom.close();
});

/** Protobuf wire bytes by hand: a tag, a varint, a length-delimited field. */
function varint(value: number): number[] {
  const bytes: number[] = [];
  while (value > 0x7f) {
    bytes.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  bytes.push(value);
  return bytes;
}
const tag = (field: number, wire_type: number) => varint(field * 8 + wire_type);
const lengthDelimited = (field: number, payload: Uint8Array | number[]) => [...tag(field, 2), ...varint(payload.length), ...payload];

test('point 1: a misspelt field over Connect JSON is INVALID_ARGUMENT naming it, and a retry writes nothing', async () => {
  const { token, call: inv } = await newTenant(stockroom, inventory, 'edge-misspelt');
  await inv('createItem', { productId: 'GADGET-2', sku: 'G2', name: 'Gadget' });
  const body = JSON.stringify({ productId: 'GADGET-2', quantity: '1', reference: 'PO-9', idempotencyKy: 'po-9' });
  for (let attempt = 0; attempt < 2; attempt++) {
    const answer = await connectJsonCall(stockroom, `/${INVENTORY}/RecordInbound`, body, token);
    expect(answer.code).toBe('invalid_argument');
    expect(answer.errorInfos).toHaveLength(1);
    expect(answer.errorInfos[0].reason).toBe('UNKNOWN_FIELD');
    expect(answer.badRequest?.fieldViolations[0].field).toBe('idempotencyKy');
  }
  const { item } = await inv('getItem', { productId: 'GADGET-2' });
  expect(item.onHand).toBe('0');
});

test('point 2: int64 in JSON accepts decimal digits only (no hex, binary, octal, NaN or exponent strings)', async () => {
  const { token, call: inv } = await newTenant(stockroom, inventory, 'edge-int64');
  await inv('createItem', { productId: 'W', sku: 'W', name: 'Widget' });
  await inv('recordInbound', { productId: 'W', quantity: '100', reference: 'PO' });
  for (const quantity of ['0x10', '0b11', '0o17', 'NaN', '1e3', ' 16', '+16', 'Infinity', '99999999999999999999999']) {
    const body = JSON.stringify({ items: [{ productId: 'W', quantity }], reference: `R-${quantity}` });
    const answer = await connectJsonCall(stockroom, `/${INVENTORY}/Reserve`, body, token);
    expect([quantity, answer.code]).toEqual([quantity, 'invalid_argument']);
    expect(answer.errorInfos).toHaveLength(1);
    expect(answer.badRequest?.fieldViolations[0].field).toMatch(/quantity$/);
  }
  const answer = await connectJsonCall(stockroom, `/${INVENTORY}/Reserve`, JSON.stringify({ items: [{ productId: 'W', quantity: '16' }], reference: 'R-OK' }), token);
  expect(answer.status).toBe(200);
  const { item } = await inv('getItem', { productId: 'W' });
  expect(item.reserved).toBe('16');
});

test('point 3: invalid UTF-8 in a JSON string is refused, never stored as U+FFFD', async () => {
  const { tenant, token } = await newTenant(stockroom, inventory, 'edge-utf8-json');
  const before = await tenantRowCounts(tenant);
  const bad = Buffer.concat([Buffer.from('{"productId":"BAD'), Buffer.from([0xff, 0xfe]), Buffer.from('","sku":"S","name":"N"}')]);
  const answer = await connectJsonCall(stockroom, `/${INVENTORY}/CreateItem`, bad, token);
  expect(answer.code).toBe('invalid_argument');
  expect(answer.errorInfos.map((info) => info.reason)).toEqual(['INVALID_UTF8']);
  const surrogate = await connectJsonCall(stockroom, `/${INVENTORY}/CreateItem`, '{"productId":"BAD\\ud800","sku":"S","name":"N"}', token);
  expect(surrogate.code).toBe('invalid_argument');
  expect(surrogate.errorInfos.map((info) => info.reason)).toEqual(['INVALID_UTF8']);
  expect(await tenantRowCounts(tenant)).toEqual(before);
});

test('points 3 and 4: invalid UTF-8 in protobuf bytes is INVALID_ARGUMENT with one ErrorInfo, not INTERNAL', async () => {
  const { tenant, token } = await newTenant(stockroom, inventory, 'edge-utf8-binary');
  const before = await tenantRowCounts(tenant);
  const message = new Uint8Array([...lengthDelimited(1, [0x42, 0xff, 0x41]), ...lengthDelimited(2, [0x53]), ...lengthDelimited(3, [0x4e])]);
  const answer = await rawGrpcCall(stockroom, `/${INVENTORY}/CreateItem`, message, token);
  expect(answer.ok).toBe(false);
  const error = errorDetails(!answer.ok && answer.error);
  expect(grpc.status[error.code]).toBe('INVALID_ARGUMENT');
  expect(error.errorInfos.map((info) => info.reason)).toEqual(['INVALID_UTF8']);
  expect(await tenantRowCounts(tenant)).toEqual(before);
});

test('point 4: JSON that protobuf cannot decode (NaN for an int64) carries one ErrorInfo', async () => {
  const { token } = await newTenant(stockroom, inventory, 'edge-nan');
  const answer = await connectJsonCall(stockroom, `/${INVENTORY}/RecordInbound`, '{"productId":"X","quantity":NaN}', token);
  expect(answer.code).toBe('invalid_argument');
  expect(answer.errorInfos).toHaveLength(1);
  const wrong_type = await connectJsonCall(stockroom, `/${INVENTORY}/RecordInbound`, '{"productId":7,"quantity":"1"}', token);
  expect(wrong_type.code).toBe('invalid_argument');
  expect(wrong_type.errorInfos).toHaveLength(1);
});

test('points 4 and 5: a 1 MB bad decimal over grpc-js is INVALID_ARGUMENT with one ErrorInfo and small trailers', async () => {
  const { call: part_call, token } = await newTenant(stockroom, parts, 'edge-huge-decimal');
  const { part } = await part_call('createPart', { part: { partNumber: 'P-1', name: 'Pump' } });
  const { location } = await part_call('createLocation', { location: { site: 'S', name: 'L' } });
  const qty = '9'.repeat(ONE_MB) + 'x';
  let raw: grpc.ServiceError | undefined;
  const error = await expectError(
    call(parts, 'receiveParts', { partId: part.id, locationId: location.id, qty, unitCost: '1' }, token).catch((caught) => {
      raw = caught;
      throw caught;
    }),
  );
  expect(grpc.status[error.code]).toBe('INVALID_ARGUMENT');
  expect(error.errorInfos).toHaveLength(1);
  expect(error.badRequest?.fieldViolations[0].field).toBe('qty');
  expect(error.message).toContain(`(${ONE_MB + 1} chars)`);
  expect(errorTrailerBytes(raw!)).toBeLessThan(2_048);
});

test('point 5: echoed input is capped everywhere (update-mask paths, ids, health service name)', async () => {
  const { call: part_call, token } = await newTenant(stockroom, parts, 'edge-echo');
  const { part } = await part_call('createPart', { part: { partNumber: 'P-2', name: 'Pipe' } });
  const long = 'z'.repeat(20_000);
  const attempts: Promise<unknown>[] = [
    call(parts, 'updatePart', { part: { id: part.id, name: 'x' }, updateMask: { paths: [long] } }, token),
    call(parts, 'getPart', { partId: long }, token),
    call(inventory, 'getItem', { productId: long }, token),
    call(inventory, 'updateItem', { item: { productId: 'P', name: 'x' }, updateMask: { paths: [long, `${long}2`] } }, token),
  ];
  const health = stockroom.grpcClient('grpc.health.v1.Health');
  attempts.push(call(health, 'check', { service: long }));
  // Each refusal is caught as soon as it is asked for: the last may come back before the first is checked.
  const outcomes = attempts.map((attempt) => {
    const outcome: { raw?: grpc.ServiceError; error: Promise<Awaited<ReturnType<typeof expectError>>> } = {
      error: expectError(
        attempt.catch((caught) => {
          outcome.raw = caught;
          throw caught;
        }),
      ),
    };
    return outcome;
  });
  for (const outcome of outcomes) {
    const error = await outcome.error;
    const raw = outcome.raw;
    expect(grpc.status[error.code]).not.toBe('INTERNAL');
    expect(error.errorInfos).toHaveLength(1);
    expect(error.message.length).toBeLessThan(400);
    expect(errorTrailerBytes(raw!)).toBeLessThan(2_048);
  }
});

test('point 7: one decimal grammar: no spaces, "+", leading zeros, bare points or exponents; too many places refused', async () => {
  const { call: part_call, token } = await newTenant(stockroom, parts, 'edge-grammar');
  const { part } = await part_call('createPart', { part: { partNumber: 'P-3', name: 'Valve' } });
  const { location } = await part_call('createLocation', { location: { site: 'S', name: 'L' } });
  const receive = (qty: string) => call(parts, 'receiveParts', { partId: part.id, locationId: location.id, qty, unitCost: '2.5' }, token);
  for (const qty of [' 1.5', '1.5 ', '+1.5', '01.5', '1.', '.5', '1e3', '1,5', '0x1', '1.2345', '-1', '0']) {
    const error = await expectError(receive(qty));
    expect([qty, grpc.status[error.code]]).toEqual([qty, 'INVALID_ARGUMENT']);
    expect(error.badRequest?.fieldViolations[0].field).toBe('qty');
  }
  for (const qty of ['1.5', '0.5', '10', '2.125']) await receive(qty);
  const cost = await expectError(call(parts, 'receiveParts', { partId: part.id, locationId: location.id, qty: '1', unitCost: '02.50' }, token));
  expect(cost.badRequest?.fieldViolations[0].field).toBe('unit_cost');
});

/** A page token with one byte of its encrypted cursor flipped: what a curious client would try. */
function tamper(token: string): string {
  const bytes = Buffer.from(token, 'base64url');
  bytes[14] ^= 0x01;
  return bytes.toString('base64url');
}

test('point 6: a forged, tampered or corrupted page token is INVALID_ARGUMENT on every list RPC of both services', async () => {
  const inv = await newTenant(stockroom, inventory, 'edge-token-inv');
  for (const productId of ['A', 'B']) {
    await inv.call('createItem', { productId, sku: productId, name: productId });
    await inv.call('recordInbound', { productId, quantity: '3', reference: 'PO' });
    await inv.call('reserve', { items: [{ productId, quantity: '1' }], reference: `R-${productId}` });
  }
  const prt = await newTenant(stockroom, parts, 'edge-token-parts');
  const p1 = (await prt.call('createPart', { part: { partNumber: 'P-1', name: 'One' } })).part.id;
  await prt.call('createPart', { part: { partNumber: 'P-2', name: 'Two' } });
  const l1 = (await prt.call('createLocation', { location: { site: 'S', name: 'L1' } })).location.id;
  const l2 = (await prt.call('createLocation', { location: { site: 'S', name: 'L2' } })).location.id;
  for (const locationId of [l1, l2]) await prt.call('receiveParts', { partId: p1, locationId, qty: '5', unitCost: '1' });
  for (let issue = 0; issue < 2; issue++) await prt.call('issueToWorkOrder', { workOrderId: 'WO-1', partId: p1, locationId: l1, qty: '1' });

  const lists: [grpc.Client, string, string, object][] = [
    [inventory, inv.token, 'listItems', {}],
    [inventory, inv.token, 'listMovements', {}],
    [inventory, inv.token, 'listReservations', {}],
    [inventory, inv.token, 'reconcile', {}],
    [parts, prt.token, 'listParts', {}],
    [parts, prt.token, 'listLocations', {}],
    [parts, prt.token, 'getOnHand', {}],
    [parts, prt.token, 'listBatches', {}],
    [parts, prt.token, 'listMovements', {}],
    [parts, prt.token, 'getLocationsOnHand', { partId: p1 }],
    [parts, prt.token, 'getWorkOrderParts', { workOrderId: 'WO-1' }],
    [parts, prt.token, 'reconcile', {}],
  ];
  // Every list RPC of both services is here.
  const paged = [...InventoryService.methods, ...PartsService.methods].filter((method) => method.input.fields.some((field) => field.name === 'page_token'));
  expect(paged.map((method) => method.localName).sort()).toEqual(lists.map(([, , name]) => name).sort());

  for (const [client, token, method, request] of lists) {
    const first = await call(client, method, { ...request, pageSize: 1 }, token);
    expect([method, first.nextPageToken]).not.toEqual([method, '']);
    const forgeries = [tamper(first.nextPageToken), first.nextPageToken.slice(0, -3), `${first.nextPageToken}x`, '!!!', Buffer.from('{"s":"x","c":["1"]}').toString('base64url')];
    for (const pageToken of forgeries) {
      const error = await expectError(call(client, method, { ...request, pageSize: 1, pageToken }, token));
      expect([method, grpc.status[error.code]]).toEqual([method, 'INVALID_ARGUMENT']);
      expect(error.errorInfos.map((info) => info.reason)).toEqual(['INVALID_PAGE_TOKEN']);
      expect(error.badRequest?.fieldViolations[0].field).toBe('page_token');
    }
    // The genuine token still works.
    await call(client, method, { ...request, pageSize: 1, pageToken: first.nextPageToken }, token);
  }
});

// ---------------------------------------------------------------------------
// The fuzz: malformed JSON and protobuf to every write RPC of both services.

const WRITE_METHODS: DescMethod[] = [...InventoryService.methods, ...PartsService.methods].filter((method) =>
  method.input.fields.some((field) => field.name === 'idempotency_key'),
);

/** Valid-looking bodies, so that the only fault is the one the fuzz adds. */
const BASE: Record<string, JsonValue> = {
  CreateItem: { productId: 'FZ-NEW', sku: 'S', name: 'N' },
  UpdateItem: { item: { productId: 'FZ-1', name: 'Renamed' }, updateMask: 'name' },
  Reserve: { items: [{ productId: 'FZ-1', quantity: '1' }], reference: 'FZ-R' },
  Release: { items: [{ productId: 'FZ-1', quantity: '1' }], reference: 'FZ-R0' },
  CommitOutbound: { items: [{ productId: 'FZ-1', quantity: '1' }], reference: 'FZ-R0' },
  RecordInbound: { productId: 'FZ-1', quantity: '1', reference: 'PO' },
  AdjustInventory: { productId: 'FZ-1', quantityDelta: '1', reason: 'count' },
  RecordReturn: { productId: 'FZ-1', quantity: '1', reference: 'RMA' },
  RecordDamage: { productId: 'FZ-1', quantity: '1', reference: 'D' },
  CreatePart: { part: { partNumber: 'FZ-NEW', name: 'N' } },
  CreateLocation: { location: { site: 'FZ', name: 'NEW' } },
};

/** The string fields (top level) and the int64 fields (top level and in repeated lines) of a request. */
function fieldsOf(input: DescMessage) {
  const strings = input.fields.filter((field) => field.fieldKind === 'scalar' && field.scalar === ScalarType.STRING);
  const int64: string[][] = [];
  for (const field of input.fields) {
    if (field.fieldKind === 'scalar' && field.scalar === ScalarType.INT64) int64.push([field.jsonName]);
    if (field.fieldKind === 'list' && field.listKind === 'message') {
      for (const inner of field.message.fields) if (inner.fieldKind === 'scalar' && inner.scalar === ScalarType.INT64) int64.push([field.jsonName, inner.jsonName]);
    }
  }
  const decimal = strings.find((field) => /qty|cost|price/.test(field.name)) ?? strings[0];
  return { strings, int64, decimal };
}

function withValue(base: JsonValue, path: string[], value: JsonValue): JsonValue {
  const copy = structuredClone(base ?? {}) as Record<string, any>;
  if (path.length === 1) copy[path[0]] = value;
  else copy[path[0]] = [{ ...(copy[path[0]]?.[0] ?? {}), [path[1]]: value }];
  return copy;
}

function jsonCases(method: DescMethod): [string, string | Uint8Array][] {
  const base = BASE[method.name] ?? {};
  const text = JSON.stringify(base);
  const { int64, decimal } = fieldsOf(method.input);
  const cases: [string, string | Uint8Array][] = [
    ['unknown field', JSON.stringify({ ...(base as object), idempotencyKy: 'fz' })],
    ['invalid UTF-8', Buffer.concat([Buffer.from(`${text.slice(0, -1)}${text === '{}' ? '' : ','}"idempotencyKey":"a`), Buffer.from([0xc3, 0x28]), Buffer.from('"}')])],
    ['lone surrogate', `${text.slice(0, -1)}${text === '{}' ? '' : ','}"idempotencyKey":"a\\udc00"}`],
    ['NUL character', JSON.stringify({ ...(base as object), idempotencyKey: 'a\u0000b' })],
    ['truncated', text.slice(0, Math.max(1, text.length - 4))],
    ['not an object', '[1,2]'],
    ['wrong type', JSON.stringify({ ...(base as object), idempotencyKey: 5 })],
    ['duplicate key', `{"idempotencyKey":"a","idempotencyKey":"b"}`],
    ['1 MB bad decimal', JSON.stringify({ ...(base as object), [decimal.jsonName]: '1'.repeat(ONE_MB) + '.x' })],
  ];
  for (const path of int64) {
    for (const value of ['0x10', 'NaN', '99999999999999999999999', '1e3']) cases.push([`int64 ${path.join('.')}=${value}`, JSON.stringify(withValue(base, path, value))]);
    cases.push([`int64 ${path.join('.')}=1e400`, JSON.stringify(withValue(base, path, 0)).replace(/:0([,}\]])/, ':1e400$1')]);
  }
  return cases;
}

function binaryCases(method: DescMethod): [string, Uint8Array][] {
  const base = toBinary(method.input, create(method.input, fromJson(method.input, BASE[method.name] ?? {})));
  const key = method.input.fields.find((field) => field.name === 'idempotency_key')!.number;
  const { strings, decimal } = fieldsOf(method.input);
  const bytes = (...parts: (Uint8Array | number[])[]) => new Uint8Array(parts.flatMap((part) => [...part]));
  const cases: [string, Uint8Array][] = [
    ['invalid UTF-8', bytes(base, lengthDelimited(key, [0x61, 0xff, 0x62]))],
    ['invalid UTF-8 (surrogate)', bytes(base, lengthDelimited(key, [0xed, 0xa0, 0x80]))],
    ['truncated', bytes(base, tag(key, 2), varint(50), [0x61, 0x62])],
    ['bad wire type', bytes(base, tag(1, 7), [1])],
    ['11-byte varint', bytes(base, tag(2000, 0), Array(10).fill(0xff), [0x01])],
    ['unknown field', bytes(base, tag(2000, 0), [1])],
    ['1 MB bad decimal', bytes(base, lengthDelimited(decimal.number, Buffer.from('1'.repeat(ONE_MB) + '.x')))],
  ];
  for (const field of strings) cases.push([`NUL in ${field.name}`, bytes(base, lengthDelimited(field.number, [0x61, 0x00]))]);
  return cases;
}

test('the fuzz: malformed JSON and protobuf to every write RPC get no OK, no INTERNAL, one ErrorInfo, small errors, no writes', async () => {
  expect(WRITE_METHODS.map((method) => method.name)).toEqual(expect.arrayContaining(['Reserve', 'RecordInbound', 'ReceiveParts', 'IssueToWorkOrder', 'AdjustStock']));
  const inv = await newTenant(stockroom, inventory, 'edge-fuzz');
  // One token for both services: the same tenant, so one row count covers every write.
  await inv.call('createItem', { productId: 'FZ-1', sku: 'S', name: 'Fuzz' });
  await inv.call('recordInbound', { productId: 'FZ-1', quantity: '10', reference: 'PO' });
  await inv.call('reserve', { items: [{ productId: 'FZ-1', quantity: '2' }], reference: 'FZ-R0' });
  const before = await tenantRowCounts(inv.tenant);
  const failures: string[] = [];
  for (const method of WRITE_METHODS) {
    const path = `/${method.parent.typeName}/${method.name}`;
    for (const [name, body] of jsonCases(method)) {
      const answer = await connectJsonCall(stockroom, path, body, inv.token);
      const problem =
        answer.status === 200 ? 'OK' : answer.code === 'internal' || answer.code === 'unknown' ? answer.code : answer.errorInfos.length !== 1 ? `${answer.errorInfos.length} ErrorInfos` : answer.body_bytes >= 2_048 ? `${answer.body_bytes} bytes` : undefined;
      if (problem) failures.push(`JSON ${method.name} ${name}: ${problem} ${answer.message?.slice(0, 120) ?? ''}`);
    }
    for (const [name, message] of binaryCases(method)) {
      const answer = await rawGrpcCall(stockroom, path, message, inv.token);
      if (answer.ok) {
        failures.push(`binary ${method.name} ${name}: OK`);
        continue;
      }
      const error = errorDetails(answer.error);
      const code = grpc.status[error.code];
      const problem =
        code === 'INTERNAL' || code === 'UNKNOWN' ? code : error.errorInfos.length !== 1 ? `${error.errorInfos.length} ErrorInfos` : errorTrailerBytes(answer.error) >= 2_048 ? `${errorTrailerBytes(answer.error)} bytes` : undefined;
      if (problem) failures.push(`binary ${method.name} ${name}: ${problem} ${error.message.slice(0, 120)}`);
    }
  }
  expect(failures).toEqual([]);
  expect(await tenantRowCounts(inv.tenant)).toEqual(before);
}, 240_000);

test('point 4: every error, raised before the handler or in it (decoding, size limit, auth, domain), carries one ErrorInfo and leaves exactly one log line', async () => {
  const log_lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void log_lines.push(JSON.parse(line)) });
  const logged = await startStockroom({ STOCKROOM_MAX_MESSAGE_BYTES: '65536' }, { logger });
  try {
    const tenant = `edge-log-${Date.now()}`;
    const token = await logged.token({ tenant });
    const path = `/${INVENTORY}/CreateItem`;
    const attempts: [string, () => Promise<unknown>, string][] = [
      ['malformed protobuf', () => rawGrpcCall(logged, path, new Uint8Array([0x0f, 0x01]), token), 'MALFORMED_REQUEST'],
      ['invalid UTF-8 in protobuf', () => rawGrpcCall(logged, path, new Uint8Array(lengthDelimited(1, [0xff])), token), 'INVALID_UTF8'],
      ['NaN over JSON', () => connectJsonCall(logged, `/${INVENTORY}/RecordInbound`, '{"productId":"X","quantity":"NaN"}', token), 'INVALID_INTEGER'],
      ['broken JSON', () => connectJsonCall(logged, path, '{"productId":', token), 'MALFORMED_REQUEST'],
      ['unknown protobuf field', () => rawGrpcCall(logged, path, new Uint8Array([...lengthDelimited(1, [0x41]), ...tag(2000, 0), 1]), token), 'UNKNOWN_FIELD'],
      ['no token', () => connectJsonCall(logged, path, '{"productId":"X","sku":"S","name":"N"}'), 'MISSING_TOKEN'],
      ['not found', () => connectJsonCall(logged, `/${INVENTORY}/GetItem`, '{"productId":"NOPE"}', token), 'PRODUCT_NOT_FOUND'],
      ['over the size limit', () => rawGrpcCall(logged, path, new Uint8Array(lengthDelimited(1, Buffer.alloc(100_000, 0x41))), token), 'MESSAGE_TOO_LARGE'],
    ];
    for (const [name, attempt, reason] of attempts) {
      const before = log_lines.length;
      const answer = (await attempt()) as { ok?: boolean; error?: grpc.ServiceError };
      if (answer.error) expect([name, errorDetails(answer.error).errorInfos.length]).toEqual([name, 1]);
      // The log line of a call may follow its response by a tick.
      await sleep(50);
      const rpc_lines = log_lines.slice(before).filter((line) => line.msg === 'rpc');
      expect([name, rpc_lines.length]).toEqual([name, 1]);
      expect([name, rpc_lines[0].reason]).toEqual([name, reason]);
      expect([name, rpc_lines[0].level]).toEqual([name, 30]);
    }
  } finally {
    await logged.close();
  }
});
