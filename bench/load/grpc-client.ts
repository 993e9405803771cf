/**
 * The client every caller of Stockroom would use from Node: @grpc/grpc-js
 * with stubs built from our .proto files by @grpc/proto-loader, over one
 * HTTP/2 connection per client. The service runs and the grpc-echo ceiling
 * use exactly this code.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ROOT } from '../paths.js';

const CALL_DEADLINE_MS = 30_000;

function protoFiles(directory: string): string[] {
  return fs.readdirSync(directory, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.proto'));
}

let loaded: grpc.GrpcObject | undefined;

function services(): grpc.GrpcObject {
  loaded ??= grpc.loadPackageDefinition(
    protoLoader.loadSync([...protoFiles(path.join(ROOT, 'proto')), 'grpc/health/v1/health.proto'], {
      includeDirs: [path.join(ROOT, 'proto'), path.join(ROOT, 'third_party')],
      keepCase: false,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    }),
  );
  return loaded;
}

function serviceConstructor(name: string): grpc.ServiceClientConstructor {
  let node: unknown = services();
  for (const part of name.split('.')) node = (node as Record<string, unknown>)?.[part];
  if (typeof node !== 'function') throw new Error(`no service ${name} in proto/`);
  return node as grpc.ServiceClientConstructor;
}

export type Unary = (request: object, metadata?: grpc.Metadata) => Promise<any>;

/** A unary method bound to a client, returning a promise; rejects with the grpc ServiceError. */
export function unary(client: grpc.Client, method: string): Unary {
  const fn = (client as unknown as Record<string, Function>)[method];
  if (typeof fn !== 'function') throw new Error(`no method ${method}`);
  return (request, metadata = new grpc.Metadata()) =>
    new Promise((resolve, reject) => {
      fn.call(client, request, metadata, { deadline: Date.now() + CALL_DEADLINE_MS }, (error: grpc.ServiceError | null, response: unknown) => {
        if (error) reject(error);
        else resolve(response);
      });
    });
}

export interface Clients {
  readonly inventory: grpc.Client;
  readonly parts: grpc.Client;
  readonly health: grpc.Client;
  close(): void;
}

/** One channel (one HTTP/2 connection) shared by every stub, as an application would hold it. */
export function connect(address: string): Clients {
  const channel_options = {};
  const credentials = grpc.credentials.createInsecure();
  const inventory = new (serviceConstructor('stockroom.inventory.v1.InventoryService'))(address, credentials, channel_options);
  const channel = inventory.getChannel();
  const parts = new (serviceConstructor('stockroom.parts.v1.PartsService'))(address, credentials, { channelOverride: channel });
  const health = new (serviceConstructor('grpc.health.v1.Health'))(address, credentials, { channelOverride: channel });
  return {
    inventory,
    parts,
    health,
    close() {
      inventory.close();
    },
  };
}

export function bearer(token: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

/** The gRPC code name of a failed call ("FAILED_PRECONDITION"), or the error's name. */
export function grpcCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'number' && grpc.status[code] !== undefined) return grpc.status[code];
  return error instanceof Error ? error.name : 'UNKNOWN_ERROR';
}
