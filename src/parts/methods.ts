/**
 * Names that scope idempotency keys and label page tokens: the full gRPC
 * method name, so a key stored by one method can never answer another.
 */
export const PARTS_SERVICE = 'stockroom.parts.v1.PartsService';

export function partsMethod(method: string): string {
  return `${PARTS_SERVICE}/${method}`;
}
