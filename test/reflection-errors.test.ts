/**
 * Reflection gives an operator with grpcurl everything needed to read our
 * errors: the files of google.rpc.ErrorInfo, google.rpc.Status and each
 * service's typed details, sent with the service itself (grpcurl decodes an
 * error's details only from files it already holds), and the proto comments
 * (source info) that `describe` prints. The errors of a real call are decoded
 * here with nothing but what reflection served.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create, createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { anyUnpack, FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import { StatusSchema } from '../gen/google/rpc/status_pb.js';
import { DESCRIPTOR_SET_PATH } from '../src/server/descriptor-set.js';
import { call, newTenant, serviceConstructor, startStockroom, type TestStockroom } from './support/harness.js';

const ROOT = path.resolve(import.meta.dirname, '..');
let stockroom: TestStockroom;
beforeAll(async () => {
  stockroom = await startStockroom();
});
afterAll(() => stockroom.close());

/** One file_containing_symbol request, as grpcurl sends it; the files of the answer. */
function fileContainingSymbol(symbol: string): Promise<FileDescriptorProto[]> {
  const Reflection = serviceConstructor('grpc.reflection.v1.ServerReflection');
  const client = new Reflection(stockroom.address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const stream = (client as any).serverReflectionInfo();
    stream.on('data', (response: any) => {
      stream.end();
      client.close();
      if (response.errorResponse) reject(new Error(response.errorResponse.errorMessage));
      else resolve(response.fileDescriptorResponse.fileDescriptorProto.map((bytes: Buffer) => fromBinary(FileDescriptorProtoSchema, bytes)));
    });
    stream.on('error', reject);
    stream.write({ host: '', fileContainingSymbol: symbol });
  });
}

/** The files ordered so that each comes after the files it imports, as a FileDescriptorSet must be. */
function importsFirst(files: FileDescriptorProto[]): FileDescriptorProto[] {
  const by_name = new Map(files.map((file) => [file.name, file]));
  const ordered: FileDescriptorProto[] = [];
  const visit = (file: FileDescriptorProto | undefined) => {
    if (file === undefined || ordered.includes(file)) return;
    file.dependency.forEach((name) => visit(by_name.get(name)));
    ordered.push(file);
  };
  files.forEach(visit);
  return ordered;
}

/** The leading comment of a message, from the file's source info (what `grpcurl describe` prints). */
function messageComment(file: FileDescriptorProto, message: string): string | undefined {
  const index = file.messageType.findIndex((each) => each.name === message);
  // Path [4, index]: message_type (field 4 of FileDescriptorProto), entry `index`.
  const location = file.sourceCodeInfo?.location.find((each) => each.path.length === 2 && each.path[0] === 4 && each.path[1] === index);
  return location?.leadingComments;
}

test('reflection resolves google.rpc.ErrorInfo, google.rpc.Status and the typed details, with comments', async () => {
  const [error_details] = await fileContainingSymbol('google.rpc.ErrorInfo');
  expect(error_details.name).toBe('google/rpc/error_details.proto');
  expect(messageComment(error_details, 'ErrorInfo')).toMatch(/reason/i);
  expect((await fileContainingSymbol('google.rpc.Status'))[0].name).toBe('google/rpc/status.proto');
  for (const [symbol, file] of [
    ['stockroom.inventory.v1.InsufficientStockDetail', 'stockroom/inventory/v1/error_details.proto'],
    ['stockroom.parts.v1.InsufficientStockDetail', 'stockroom/parts/v1/error_details.proto'],
    ['stockroom.parts.v1.ReturnExceedsIssuedDetail', 'stockroom/parts/v1/error_details.proto'],
    ['stockroom.parts.v1.ReservationExceededDetail', 'stockroom/parts/v1/error_details.proto'],
    ['stockroom.parts.v1.ReservationExpiredDetail', 'stockroom/parts/v1/error_details.proto'],
  ]) {
    const [served] = await fileContainingSymbol(symbol);
    expect(served.name).toBe(file);
    expect(served.sourceCodeInfo?.location.some((location) => location.leadingComments.trim() !== '')).toBe(true);
  }
  const [service_file] = await fileContainingSymbol('stockroom.inventory.v1.InventoryService');
  const service_comment = service_file.sourceCodeInfo?.location.find((each) => each.path.length === 2 && each.path[0] === 6 && each.path[1] === 0);
  expect(service_comment?.leadingComments.trim()).not.toBe('');
});

test("a real error's details decode with only the files reflection sent with the service", async () => {
  const inventory = stockroom.grpcClient('stockroom.inventory.v1.InventoryService');
  const { token } = await newTenant(stockroom, inventory, 'reflect-errors');
  await call(inventory, 'createItem', { productId: 'R-1', sku: 'R1', name: 'Reflected' }, token);
  const error = await call(inventory, 'reserve', { items: [{ productId: 'R-1', quantity: '3' }], reference: 'R' }, token).catch((e: grpc.ServiceError) => e);
  const [status_bytes] = (error as grpc.ServiceError).metadata.get('grpc-status-details-bin');
  const status = fromBinary(StatusSchema, status_bytes as Buffer);

  // All grpcurl has after resolving the service it calls:
  const files = await fileContainingSymbol('stockroom.inventory.v1.InventoryService');
  const names = files.map((file) => file.name);
  expect(names).toEqual(expect.arrayContaining(['google/rpc/status.proto', 'google/rpc/error_details.proto', 'stockroom/inventory/v1/error_details.proto']));
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: importsFirst(files) }));
  const decoded = status.details.map((any) => anyUnpack(any, registry)) as unknown as { $typeName: string; reason?: string; shortages?: unknown[] }[];
  expect(decoded.map((each) => each.$typeName)).toEqual(['google.rpc.ErrorInfo', 'stockroom.inventory.v1.InsufficientStockDetail']);
  expect(decoded[0].reason).toBe('INSUFFICIENT_STOCK');
  expect(decoded[1].shortages).toHaveLength(1);
});

test(`the committed ${DESCRIPTOR_SET_PATH} is what buf builds from proto/ now`, () => {
  const fresh = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'stockroom-reflection-')), 'reflection.binpb');
  execFileSync(path.join(ROOT, 'node_modules/.bin/buf'), ['build', '-o', fresh, '--as-file-descriptor-set'], { cwd: ROOT });
  const committed = fs.readFileSync(path.join(ROOT, DESCRIPTOR_SET_PATH));
  expect(Buffer.compare(fs.readFileSync(fresh), committed)).toBe(0);
});
