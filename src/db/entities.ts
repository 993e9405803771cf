/**
 * Every MikroORM entity of both contexts, in one list so the ORM discovers
 * them in one place. Each bounded context exports its own array.
 */
import type { EntitySchema } from '@mikro-orm/core';
import { INVENTORY_ENTITIES } from '../inventory/entities.js';
import { PARTS_ENTITIES } from '../parts/entities.js';

export const ENTITIES: EntitySchema<any, any>[] = [...INVENTORY_ENTITIES, ...PARTS_ENTITIES];
