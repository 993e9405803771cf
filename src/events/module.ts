/** The event context as the server sees it: EventService over the outbox. */
import type { ConnectRouter } from '@connectrpc/connect';
import { EventService } from '../../gen/stockroom/events/v1/events_service_pb.js';
import type { ServiceDependencies, ServiceModule } from '../server/module.js';
import { EventFeed } from './feed.js';
import { eventHandler } from './handler.js';

export function eventsModule(dependencies: ServiceDependencies): ServiceModule {
  const stopping = new AbortController();
  const handler = eventHandler(new EventFeed(dependencies.runner, dependencies.events, stopping.signal));
  return {
    service: EventService,
    register(router: ConnectRouter) {
      router.service(EventService, handler);
    },
    close() {
      stopping.abort();
    },
  };
}
