/**
 * Domain errors to gRPC statuses. One mapping for the whole server so that
 * every RPC of both services answers the same way: exactly one
 * google.rpc.ErrorInfo per error, BadRequest for bad fields, and a typed
 * detail from the service where a client needs numbers.
 *
 * Anything that is not a DomainError is a bug or an outage: it is logged in
 * full here and the client gets INTERNAL with no database text.
 */
import { create, type DescMessage, type MessageInitShape } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import type { Logger } from 'pino';
import { BadRequestSchema, ErrorInfoSchema } from '../../gen/google/rpc/error_details_pb.js';
import { DomainError } from '../shared/errors.js';

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
};

export function errorInfo(reason: string, domain: string, metadata: Record<string, string> = {}): OutgoingDetail {
  return { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason, domain, metadata }) };
}

export function toConnectError(error: unknown, domain: string, logger: Logger, mapper?: DetailMapper): ConnectError {
  if (error instanceof DomainError) {
    const details: OutgoingDetail[] = [errorInfo(error.reason, domain, error.metadata)];
    if (error.kind === 'invalid_argument' && 'violations' in error) {
      const violations = (error as { violations: readonly { field: string; description: string }[] }).violations;
      details.push({
        desc: BadRequestSchema,
        value: create(BadRequestSchema, {
          fieldViolations: violations.map((v) => ({ field: v.field, description: v.description })),
        }),
      });
    }
    details.push(...(mapper?.(error) ?? []));
    return new ConnectError(error.message, CODES[error.kind], undefined, details, error);
  }
  if (error instanceof ConnectError) {
    // Raised by the protocol layer (deadline, cancel, size limits) or already mapped.
    if (error.details.length === 0 && error.code !== Code.Canceled) {
      return new ConnectError(error.rawMessage, error.code, error.metadata, [errorInfo(Code[error.code].replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase(), domain)], error.cause);
    }
    return error;
  }
  logger.error({ err: error }, 'unexpected error');
  return new ConnectError('internal error; the operation was not completed', Code.Internal, undefined, [errorInfo('INTERNAL', domain)]);
}
