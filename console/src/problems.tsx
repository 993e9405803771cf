/**
 * Errors people can act on: the server's google.rpc details decoded with the
 * generated types, so a form shows each field violation next to its field,
 * a shortage shows requested and available per line, and anything else shows
 * its message and reason.
 */
import { createContext, useContext } from 'react';
import { Code, ConnectError } from '@connectrpc/connect';
import { BadRequestSchema, ErrorInfoSchema } from '../../gen/google/rpc/error_details_pb.js';
import { InsufficientStockDetailSchema as InventoryShortageSchema, ReservationExceededDetailSchema } from '../../gen/stockroom/inventory/v1/error_details_pb.js';
import { InsufficientStockDetailSchema as PartsShortageSchema, ReturnExceedsIssuedDetailSchema } from '../../gen/stockroom/parts/v1/error_details_pb.js';

export interface FieldProblem {
  /** The request field's path as the server names it, e.g. `qty` or `items[0].quantity`. */
  readonly field: string;
  readonly description: string;
}

export interface ShortLine {
  readonly what: string;
  readonly where: string;
  readonly requested: string;
  readonly available: string;
}

export interface Problem {
  readonly code: string;
  readonly message: string;
  readonly reason: string;
  readonly violations: readonly FieldProblem[];
  readonly short_lines: readonly ShortLine[];
}

/** A value the console could not even turn into a request (e.g. "abc" for a whole number). */
export class InputError extends Error {
  constructor(
    readonly field: string,
    description: string,
  ) {
    super(description);
  }
}

export function problemOf(error: unknown): Problem {
  if (error instanceof InputError) {
    return { code: 'INVALID_ARGUMENT', message: `${error.field}: ${error.message}`, reason: 'INVALID_INPUT', violations: [{ field: error.field, description: error.message }], short_lines: [] };
  }
  const connect = ConnectError.from(error);
  const info = connect.findDetails(ErrorInfoSchema)[0];
  const violations = connect.findDetails(BadRequestSchema).flatMap((bad) => bad.fieldViolations.map((v) => ({ field: v.field, description: v.description })));
  const short_lines: ShortLine[] = [
    ...connect.findDetails(InventoryShortageSchema).flatMap((detail) =>
      detail.shortages.map((line) => ({ what: line.productId, where: '', requested: line.requested.toString(), available: line.available.toString() })),
    ),
    ...connect.findDetails(ReservationExceededDetailSchema).flatMap((detail) =>
      detail.lines.map((line) => ({ what: line.productId, where: `held by ${detail.reference}`, requested: line.requested.toString(), available: line.held.toString() })),
    ),
    ...connect.findDetails(PartsShortageSchema).map((line) => ({ what: line.partNumber, where: line.locationId, requested: line.requested, available: line.available })),
    ...connect.findDetails(ReturnExceedsIssuedDetailSchema).map((line) => ({ what: line.partNumber, where: line.locationId, requested: line.requested, available: line.netIssued })),
  ];
  return {
    code: codeName(connect.code),
    message: connect.rawMessage,
    reason: info?.reason ?? '',
    violations,
    short_lines,
  };
}

function codeName(code: Code): string {
  return (Code[code] ?? 'UNKNOWN').replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}

/** The violation for one form field: exact path, or the path's last segment (`items[0].quantity` → `quantity`). */
export function violationFor(problem: Problem | null, field: string): string | undefined {
  if (!problem) return undefined;
  const found = problem.violations.find((v) => v.field === field || v.field.endsWith('.' + field) || v.field.replace(/\[\d+\]/g, '') === field);
  return found?.description;
}

/** Turns ids in error details (e.g. a location id) into names people know; pages that know them provide it. */
export const IdLabels = createContext<(id: string) => string>((id) => id);

/** The whole problem, minus the violations a form already shows beside their fields. */
export function ProblemBox({ problem, shownFields = [] }: { problem: Problem | null; shownFields?: readonly string[] }) {
  const label = useContext(IdLabels);
  if (!problem) return null;
  const unplaced = problem.violations.filter((v) => !shownFields.some((field) => violationFor({ ...problem, violations: [v] }, field)));
  const placed_all = problem.violations.length > 0 && unplaced.length === 0;
  return (
    <div className="problem" role="alert">
      <p>
        <strong>{placed_all ? 'Please correct the fields marked below.' : problem.message}</strong>
      </p>
      <p className="muted">
        {problem.code}
        {problem.reason ? ` · ${problem.reason}` : ''}
      </p>
      {problem.short_lines.length > 0 && (
        <table className="short-lines">
          <caption>Not enough stock</caption>
          <thead>
            <tr>
              <th scope="col">Line</th>
              <th scope="col">Requested</th>
              <th scope="col">Available</th>
            </tr>
          </thead>
          <tbody>
            {problem.short_lines.map((line, index) => (
              <tr key={index}>
                <td>
                  {line.what}
                  {line.where ? <span className="muted"> ({label(line.where)})</span> : null}
                </td>
                <td className="num" data-label="requested">{line.requested}</td>
                <td className="num" data-label="available">{line.available}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {unplaced.length > 0 && !placed_all && problem.violations.length > 0 && (
        <ul>
          {unplaced.map((v, index) => (
            <li key={index}>
              <code>{v.field}</code>: {v.description}
            </li>
          ))}
        </ul>
      )}
      {problem.code === 'UNAUTHENTICATED' && <p>Your token was refused; sign out and sign in with a fresh one.</p>}
    </div>
  );
}
