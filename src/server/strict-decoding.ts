/**
 * Strict decoding for every method of both services, in JSON and protobuf
 * binary alike. Connect's defaults are lenient in ways that cost data:
 * unknown JSON fields are ignored (a misspelt `idempotencyKy` made a retry a
 * second write), int64 strings go through BigInt() (so "0x10" is 16), and
 * invalid UTF-8 in JSON becomes U+FFFD and is stored. Here:
 *
 *  - JSON: the body must be valid UTF-8 and valid JSON; every key must name a
 *    field; integers are decimal digits only (as JSON numbers they must be
 *    exact); strings must be well-formed Unicode (no lone surrogates).
 *  - Binary: protobuf-es already refuses invalid UTF-8 in strings; unknown
 *    field numbers are refused by `unknownFieldInterceptor`.
 *
 * Each refusal is INVALID_ARGUMENT with one ErrorInfo (UNKNOWN_FIELD,
 * INVALID_INTEGER, INVALID_UTF8, MALFORMED_REQUEST) and a BadRequest naming
 * the field, e.g. `items[0].quantity`.
 */
import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';
import type { ConnectRouter, Interceptor } from '@connectrpc/connect';
import type { UniversalHandlerOptions } from '@connectrpc/connect/protocol';
import { InvalidArgumentError, quoteInput } from '../shared/errors.js';
import { errorDomain, toConnectError } from './errors.js';

const INTEGER_TYPES = new Set<ScalarType>([
  ScalarType.INT32,
  ScalarType.UINT32,
  ScalarType.SINT32,
  ScalarType.FIXED32,
  ScalarType.SFIXED32,
  ScalarType.INT64,
  ScalarType.UINT64,
  ScalarType.SINT64,
  ScalarType.FIXED64,
  ScalarType.SFIXED64,
]);
/** Decimal digits only: no "0x", "0b", "0o", exponent, point, spaces or "+". 20 digits hold every uint64. */
const INTEGER_TEXT = /^-?[0-9]{1,20}$/;

const FATAL_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function refuse(field: string, description: string, reason: string): InvalidArgumentError {
  return new InvalidArgumentError([{ field, description }], reason, { field });
}

/** Fields of a message by every name protobuf JSON accepts (jsonName and proto name). */
const FIELDS_BY_KEY = new WeakMap<DescMessage, Map<string, DescField>>();

function fieldsByKey(desc: DescMessage): Map<string, DescField> {
  let fields = FIELDS_BY_KEY.get(desc);
  if (!fields) {
    fields = new Map();
    for (const field of desc.fields) fields.set(field.jsonName, field).set(field.name, field);
    FIELDS_BY_KEY.set(desc, fields);
  }
  return fields;
}

// String.prototype.isWellFormed (Node 20+), not yet in TypeScript's ES2023 lib.
const isWellFormed = (text: string): boolean => (text as unknown as { isWellFormed(): boolean }).isWellFormed();

function checkScalar(scalar: ScalarType, value: unknown, path: string): void {
  if (INTEGER_TYPES.has(scalar)) {
    const valid = typeof value === 'string' ? INTEGER_TEXT.test(value) : typeof value !== 'number' || Number.isSafeInteger(value);
    if (!valid) {
      const got = typeof value === 'string' ? quoteInput(value) : String(value);
      throw refuse(path, `must be an integer in decimal digits (as a string for values beyond 2^53), got ${got}`, 'INVALID_INTEGER');
    }
  } else if (scalar === ScalarType.STRING && typeof value === 'string' && !isWellFormed(value)) {
    throw refuse(path, 'must be valid Unicode text (it holds a lone surrogate)', 'INVALID_UTF8');
  }
}

function checkValue(field: DescField, value: unknown, path: string): void {
  if (value === null) return;
  switch (field.fieldKind) {
    case 'scalar':
      return checkScalar(field.scalar, value, path);
    case 'message':
      return checkJsonMessage(field.message, value, path);
    case 'list':
      if (!Array.isArray(value)) return;
      value.forEach((item, index) => {
        if (field.listKind === 'scalar') checkScalar(field.scalar, item, `${path}[${index}]`);
        else if (field.listKind === 'message') checkJsonMessage(field.message, item, `${path}[${index}]`);
      });
      return;
    case 'map':
      if (typeof value !== 'object' || Array.isArray(value)) return;
      for (const [key, item] of Object.entries(value as object)) {
        if (field.mapKind === 'scalar') checkScalar(field.scalar, item, `${path}[${JSON.stringify(key)}]`);
        else if (field.mapKind === 'message') checkJsonMessage(field.message, item, `${path}[${JSON.stringify(key)}]`);
      }
      return;
    default:
      return; // enums: protobuf-es refuses unknown names itself
  }
}

/** Walks parsed JSON along the message schema; protobuf-es then does the rest of the decoding. */
export function checkJsonMessage(desc: DescMessage, json: unknown, path = ''): void {
  // Well-known types have their own JSON forms (RFC 3339 strings, paths…), which protobuf-es checks.
  if (desc.typeName.startsWith('google.protobuf.')) return;
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return;
  const fields = fieldsByKey(desc);
  for (const [key, value] of Object.entries(json)) {
    const field = fields.get(key);
    const field_path = path === '' ? (field?.name ?? key) : `${path}.${field?.name ?? key}`;
    if (!field) {
      throw refuse(capped(field_path), `is not a field of ${desc.typeName}; unknown fields are refused, never ignored (check its spelling)`, 'UNKNOWN_FIELD');
    }
    checkValue(field, value, field_path);
  }
}

function capped(path: string): string {
  return path.length <= 100 ? path : `${path.slice(0, 100)}…`;
}

/**
 * Stands in for Connect's TextDecoder of request bodies: decodes strictly and
 * checks the JSON against the method's input schema before protobuf-es reads
 * it. Its errors are complete ConnectErrors, which Connect passes on as is.
 */
type JsonOptions = UniversalHandlerOptions['jsonOptions'];

function strictJsonReader(input: DescMessage, domain: string) {
  return {
    decode(bytes?: Uint8Array): string {
      try {
        let text: string;
        try {
          text = FATAL_UTF8.decode(bytes);
        } catch {
          throw refuse('', 'the request body is not valid UTF-8', 'INVALID_UTF8');
        }
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          throw refuse('', 'the request body is not valid JSON', 'MALFORMED_REQUEST');
        }
        checkJsonMessage(input, json);
        return text;
      } catch (error) {
        throw toConnectError(error, domain);
      }
    },
  };
}

/**
 * A router whose `service()` registers each method with strict JSON options
 * for its own input message (Connect's options are per method, not per call).
 */
export function strictRouter(router: ConnectRouter): ConnectRouter {
  const strict: ConnectRouter = {
    ...router,
    service(service, implementation, options) {
      const domain = errorDomain(service.typeName);
      for (const method of service.methods) {
        const impl = (implementation as Record<string, unknown>)[method.localName];
        if (typeof impl !== 'function') continue;
        router.rpc(method as never, impl.bind(implementation) as never, {
          ...options,
          // The handler options' type omits textDecoder, but Connect hands
          // jsonOptions to createJsonSerialization, which honours it; the
          // strict-decoding tests fail if an upgrade stops doing so.
          jsonOptions: { ...options?.jsonOptions, ignoreUnknownFields: false, textDecoder: strictJsonReader(method.input, domain) } as JsonOptions,
        });
      }
      return strict;
    },
  };
  return strict;
}

/** Message-typed fields (single or repeated): where unknown fields of nested messages hide. */
const MESSAGE_FIELDS = new WeakMap<DescMessage, DescField[]>();

function messageFields(desc: DescMessage): DescField[] {
  let fields = MESSAGE_FIELDS.get(desc);
  if (!fields) {
    fields = desc.fields.filter((field) => field.fieldKind === 'message' || (field.fieldKind === 'list' && field.listKind === 'message'));
    MESSAGE_FIELDS.set(desc, fields);
  }
  return fields;
}

interface UnknownField {
  /** Path of the message that carried it; empty for the request itself. */
  readonly path: string;
  readonly number: number;
}

/** The first field number a binary request carried that its schema does not know. */
function findUnknownField(desc: DescMessage, message: Record<string, unknown>, path: string): UnknownField | undefined {
  const unknown = message.$unknown as { no: number }[] | undefined;
  if (unknown && unknown.length > 0) return { path, number: unknown[0].no };
  for (const field of messageFields(desc)) {
    const value = message[field.localName];
    const field_path = path === '' ? field.name : `${path}.${field.name}`;
    const items = (field.fieldKind === 'list' ? value : value ? [value] : []) as Record<string, unknown>[];
    for (let index = 0; index < items.length; index++) {
      const found = findUnknownField((field as { message: DescMessage }).message, items[index], field.fieldKind === 'list' ? `${field_path}[${index}]` : field_path);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * Refuses unknown field numbers in a unary request: protobuf-es keeps them
 * in `$unknown`, where the handlers would never look.
 */
export function unknownFieldInterceptor(): Interceptor {
  return (next) => (request) => {
    if (!request.stream) {
      const found = findUnknownField(request.method.input, request.message as unknown as Record<string, unknown>, '');
      if (found) {
        const owner = found.path === '' ? request.method.input.typeName : found.path;
        throw refuse(
          found.path === '' ? `#${found.number}` : `${found.path}.#${found.number}`,
          `field number ${found.number} is not part of ${owner}; unknown fields are refused, never ignored`,
          'UNKNOWN_FIELD',
        );
      }
    }
    return next(request);
  };
}
