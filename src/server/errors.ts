/**
 * The one error path of the server. Every error a client receives, whether
 * the domain raised it or Connect did while decoding, limiting or timing the
 * request, leaves through `toConnectError` (errors raised inside the
 * interceptors) or `completeProtocolError` (errors raised before them; see
 * error-boundary.ts), so that it carries exactly one google.rpc.ErrorInfo, a
 * BadRequest where a field is known, the right code, and stays small: echoed
 * input is capped (src/shared/errors.ts capInput) and the whole status fits
 * in TRAILER_BYTES_MAX, whatever the request's size.
 *
 * Anything that is neither a DomainError nor a ConnectError is a bug or an
 * outage: it is logged in full here and the client gets INTERNAL with no
 * database text.
 */
import { create, toBinary, type DescMessage, type MessageInitShape } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import type { Logger } from 'pino';
import { BadRequestSchema, ErrorInfoSchema } from '../../gen/google/rpc/error_details_pb.js';
import { capInput, DomainError, InvalidArgumentError, type FieldViolation } from '../shared/errors.js';

export interface OutgoingDetail {
  desc: DescMessage;
  value: MessageInitShape<DescMessage>;
}

/** A service's own typed details for an error (e.g. the short lines of INSUFFICIENT_STOCK). */
export type DetailMapper = (error: DomainError) => OutgoingDetail[];

const CODES: Record<DomainError['kind'], Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  unavailable: Code.Unavailable,
  resource_exhausted: Code.ResourceExhausted,
};

/**
 * What one error may add to a response's trailers (grpc-message plus
 * grpc-status-details-bin, as encoded on the wire). Clients cap all headers
 * of a response at 8 KiB (grpc-core) or less; 2 KiB leaves room for the rest.
 */
export const TRAILER_BYTES_MAX = 2_048;
const MESSAGE_CHARS_MAX = 240;
const DESCRIPTION_CHARS_MAX = 200;
const METADATA_VALUE_CHARS_MAX = 100;
/** BadRequest lists this many bad fields; ErrorInfo metadata `violationCount` has the total. */
const VIOLATIONS_SHOWN_MAX = 8;

export function errorInfo(reason: string, domain: string, metadata: Record<string, string> = {}): OutgoingDetail {
  const bounded: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata)) bounded[key] = capInput(value, false, METADATA_VALUE_CHARS_MAX);
  return { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason, domain, metadata: bounded }) };
}

export function badRequest(violations: readonly FieldViolation[]): OutgoingDetail {
  const shown = violations.slice(0, VIOLATIONS_SHOWN_MAX).map((violation) => ({
    field: capInput(violation.field, false, METADATA_VALUE_CHARS_MAX),
    description: capInput(violation.description, false, DESCRIPTION_CHARS_MAX),
  }));
  return { desc: BadRequestSchema, value: create(BadRequestSchema, { fieldViolations: shown }) };
}

/** `RESOURCE_EXHAUSTED` for Code.ResourceExhausted: the reason of a status that has no better one. */
export function reasonOfCode(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}

/** The ErrorInfo domain of a service: its package, e.g. `stockroom.parts.v1`. */
export function errorDomain(service_type_name: string): string {
  return service_type_name.replace(/\.[A-Za-z0-9]+$/, '');
}

/** A ConnectError that keeps the whole status inside TRAILER_BYTES_MAX. */
export function boundedError(message: string, code: Code, details: OutgoingDetail[], cause?: unknown): ConnectError {
  let text = capInput(message, false, MESSAGE_CHARS_MAX);
  let kept = details;
  // Typed details come last and go first; ErrorInfo always stays.
  while (trailerBytes(text, kept) > TRAILER_BYTES_MAX && kept.length > 1) kept = kept.slice(0, -1);
  if (trailerBytes(text, kept) > TRAILER_BYTES_MAX) text = capInput(message, false, 80);
  return new ConnectError(text, code, undefined, kept, cause);
}

/** Bytes of grpc-message (percent-encoded) and grpc-status-details-bin (base64 of google.rpc.Status). */
function trailerBytes(message: string, details: readonly OutgoingDetail[]): number {
  const message_bytes = Buffer.byteLength(message);
  const encoded_message_bytes = message_bytes + 2 * (message_bytes - message.replace(/[^\x20-\x7e]|%/g, '').length);
  let status_bytes = message_bytes + 8;
  for (const detail of details) status_bytes += toBinary(detail.desc, detail.value as never).byteLength + detail.desc.typeName.length + 32;
  return encoded_message_bytes + Math.ceil((status_bytes * 4) / 3);
}

export function toConnectError(error: unknown, domain: string, logger?: Logger, mapper?: DetailMapper): ConnectError {
  if (error instanceof DomainError) {
    const details: OutgoingDetail[] = [errorInfo(error.reason, domain, error.metadata)];
    if (error instanceof InvalidArgumentError) details.push(badRequest(error.violations));
    details.push(...(mapper?.(error) ?? []));
    return boundedError(error.message, CODES[error.kind], details, error);
  }
  if (error instanceof ConnectError) {
    // Raised by the protocol layer (deadline, cancel, size limits) or already mapped.
    completeProtocolError(error, domain);
    return error;
  }
  logger?.error({ err: error }, 'unexpected error');
  return new ConnectError('internal error; the operation was not completed', Code.Internal, undefined, [errorInfo('INTERNAL', domain)]);
}

/**
 * Gives an error that Connect raised itself (a request it could not decode, a
 * message over the size limit, a deadline) what every error carries. Works in
 * place: Connect serializes this very object after the error boundary saw it.
 * Decoding failures are the client's: INVALID_ARGUMENT, never INTERNAL.
 */
export function completeProtocolError(error: ConnectError, domain: string): void {
  if (error.code === Code.Canceled || error.findDetails(ErrorInfoSchema).length > 0) return;
  const { code, reason, field } = classifyProtocolError(error);
  const details = [errorInfo(reason, domain, field ? { field } : {})];
  if (field) details.push(badRequest([{ field, description: 'could not be decoded' }]));
  const complete = boundedError(error.rawMessage, code, details);
  const target = error as { -readonly [K in keyof ConnectError]: ConnectError[K] };
  target.code = complete.code;
  target.rawMessage = complete.rawMessage;
  target.message = complete.message;
  target.details = complete.details;
}

/** protobuf-es names the field it could not decode: `cannot decode field pkg.Message.field from JSON: …`. */
const JSON_FIELD = /^cannot decode field [\w.]*\.(\w+) from JSON/;

function classifyProtocolError(error: ConnectError): { code: Code; reason: string; field?: string } {
  const message = error.rawMessage;
  if (message.startsWith('parse binary:')) {
    return { code: Code.InvalidArgument, reason: /utf-8/i.test(message) ? 'INVALID_UTF8' : 'MALFORMED_REQUEST' };
  }
  if (error.code === Code.InvalidArgument && message.startsWith('cannot decode')) {
    return { code: Code.InvalidArgument, reason: 'MALFORMED_REQUEST', field: JSON_FIELD.exec(message)?.[1] };
  }
  if (error.code === Code.ResourceExhausted && /readMaxBytes|larger than/i.test(message)) {
    return { code: error.code, reason: 'MESSAGE_TOO_LARGE' };
  }
  if (error.code === Code.InvalidArgument && message.startsWith('protocol error')) {
    return { code: error.code, reason: 'MALFORMED_REQUEST' };
  }
  return { code: error.code, reason: reasonOfCode(error.code) };
}
