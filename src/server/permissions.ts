/**
 * The role each RPC needs: one table for the whole server, checked before a
 * handler runs, so a caller without rights learns nothing about what exists.
 * A test proves that every method of both services is listed here.
 *
 * Roles are ordered: admin can do all an operator can, an operator all a viewer can.
 */
import type { Role } from '../shared/caller.js';

/** `open` methods need no token (health, and reflection unless configured otherwise). */
export type Requirement = Role | 'open';

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

export function satisfies(roles: ReadonlySet<Role>, required: Role): boolean {
  for (const role of roles) if (RANK[role] >= RANK[required]) return true;
  return false;
}

/** Keyed by `package.Service/Method`. */
export const METHOD_ROLES: Readonly<Record<string, Requirement>> = {
  'grpc.health.v1.Health/Check': 'open',
  'grpc.health.v1.Health/Watch': 'open',
  'grpc.health.v1.Health/List': 'open',
  'grpc.reflection.v1.ServerReflection/ServerReflectionInfo': 'open',
  'grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo': 'open',

  // stockroom.inventory.v1.InventoryService
  'stockroom.inventory.v1.InventoryService/CreateItem': 'admin',
  'stockroom.inventory.v1.InventoryService/GetItem': 'viewer',
  'stockroom.inventory.v1.InventoryService/ListItems': 'viewer',
  'stockroom.inventory.v1.InventoryService/UpdateItem': 'admin',
  'stockroom.inventory.v1.InventoryService/CheckAvailability': 'viewer',
  'stockroom.inventory.v1.InventoryService/Reserve': 'operator',
  'stockroom.inventory.v1.InventoryService/Release': 'operator',
  'stockroom.inventory.v1.InventoryService/CommitOutbound': 'operator',
  'stockroom.inventory.v1.InventoryService/GetReservation': 'viewer',
  'stockroom.inventory.v1.InventoryService/ExtendReservation': 'operator',
  'stockroom.inventory.v1.InventoryService/ListReservations': 'viewer',
  'stockroom.inventory.v1.InventoryService/RecordInbound': 'operator',
  'stockroom.inventory.v1.InventoryService/AdjustInventory': 'admin',
  'stockroom.inventory.v1.InventoryService/RecordReturn': 'operator',
  'stockroom.inventory.v1.InventoryService/RecordDamage': 'operator',
  'stockroom.inventory.v1.InventoryService/ListMovements': 'viewer',
  'stockroom.inventory.v1.InventoryService/CheckInventoryHealth': 'admin',
  'stockroom.inventory.v1.InventoryService/Reconcile': 'admin',

  // stockroom.parts.v1.PartsService
  'stockroom.parts.v1.PartsService/CreatePart': 'admin',
  'stockroom.parts.v1.PartsService/GetPart': 'viewer',
  'stockroom.parts.v1.PartsService/ListParts': 'viewer',
  'stockroom.parts.v1.PartsService/UpdatePart': 'admin',
  'stockroom.parts.v1.PartsService/DeletePart': 'admin',
  'stockroom.parts.v1.PartsService/CreateLocation': 'admin',
  'stockroom.parts.v1.PartsService/GetLocation': 'viewer',
  'stockroom.parts.v1.PartsService/ListLocations': 'viewer',
  'stockroom.parts.v1.PartsService/UpdateLocation': 'admin',
  'stockroom.parts.v1.PartsService/ReceiveParts': 'operator',
  'stockroom.parts.v1.PartsService/IssueToWorkOrder': 'operator',
  'stockroom.parts.v1.PartsService/ReturnFromWorkOrder': 'operator',
  'stockroom.parts.v1.PartsService/TransferBetweenLocations': 'operator',
  'stockroom.parts.v1.PartsService/AdjustStock': 'admin',
  'stockroom.parts.v1.PartsService/RecordCount': 'admin',
  'stockroom.parts.v1.PartsService/ReturnToVendor': 'admin',
  'stockroom.parts.v1.PartsService/GetOnHand': 'viewer',
  'stockroom.parts.v1.PartsService/ListBatches': 'viewer',
  'stockroom.parts.v1.PartsService/ListMovements': 'viewer',
  'stockroom.parts.v1.PartsService/GetLocationsOnHand': 'viewer',
  'stockroom.parts.v1.PartsService/GetWorkOrderParts': 'viewer',
  'stockroom.parts.v1.PartsService/ReservePartsForWorkOrder': 'operator',
  'stockroom.parts.v1.PartsService/ReleaseWorkOrderReservation': 'operator',
  'stockroom.parts.v1.PartsService/CheckInventoryHealth': 'admin',
  'stockroom.parts.v1.PartsService/Reconcile': 'admin',
  'stockroom.parts.v1.PartsService/SetReorderPoint': 'admin',

  // stockroom.events.v1.EventService
  'stockroom.events.v1.EventService/WatchEvents': 'viewer',
  'stockroom.events.v1.EventService/ListEvents': 'viewer',
};

export const REFLECTION_METHODS = [
  'grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
  'grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo',
];
