/**
 * Live pages: one WatchEvents stream per tab (Connect server streaming over
 * fetch). Any event of the tenant re-reads the page's queries, at most once
 * per quarter second; a dropped stream resumes after the last position it
 * saw, so no change is missed. The Refresh button stays for when it is down.
 */
import { useEffect, useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { ConnectError } from '@connectrpc/connect';
import { eventsClient } from './transport.js';

export type LiveStatus = 'connecting' | 'live' | 'offline';

const REFRESH_DEBOUNCE_MS = 250;
const RETRY_DELAY_MS = [1_000, 2_000, 5_000, 10_000];

export function useLiveUpdates(): LiveStatus {
  const query_client = useQueryClient();
  const [status, setStatus] = useState<LiveStatus>('connecting');
  useEffect(() => {
    const controller = new AbortController();
    let position = '';
    let timer: ReturnType<typeof setTimeout> | undefined;
    const refresh = () => {
      timer ??= setTimeout(() => {
        timer = undefined;
        void query_client.invalidateQueries();
      }, REFRESH_DEBOUNCE_MS);
    };
    (async () => {
      for (let failures = 0; !controller.signal.aborted; ) {
        try {
          for await (const message of eventsClient.watchEvents({ afterPosition: position }, { signal: controller.signal, timeoutMs: 0 })) {
            setStatus('live');
            failures = 0;
            position = message.kind.value?.position ?? position;
            if (message.kind.case === 'event') refresh();
          }
        } catch (error) {
          if (controller.signal.aborted) return;
          setStatus('offline');
          // A stale position (events purged) cannot resume: start from now and re-read everything.
          if (ConnectError.from(error).code !== undefined && position !== '') refresh();
          await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS[Math.min(failures, RETRY_DELAY_MS.length - 1)]));
          failures += 1;
          if (failures > 2) position = '';
        }
      }
    })();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [query_client]);
  return status;
}
