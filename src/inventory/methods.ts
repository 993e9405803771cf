/** Full gRPC method names, used to scope idempotency keys per method (as PartsService does). */
export const INVENTORY_SERVICE_NAME = 'stockroom.inventory.v1.InventoryService';

export function inventoryMethod(method: string): string {
  return `${INVENTORY_SERVICE_NAME}/${method}`;
}
