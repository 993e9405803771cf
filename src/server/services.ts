/** The Stockroom services this server hosts, besides health and reflection. */
import { eventsModule } from '../events/module.js';
import { inventoryModule } from '../inventory/module.js';
import { partsModule } from '../parts/module.js';
import type { ServiceDependencies, ServiceModule } from './module.js';

export function stockroomServices(dependencies: ServiceDependencies): ServiceModule[] {
  return [
    inventoryModule(dependencies),
    partsModule(dependencies),
    eventsModule(dependencies),
  ];
}
