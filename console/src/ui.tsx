/** Small pieces every page uses: paging, progress, refresh, formatting. */
import { useState, type ReactNode } from 'react';
import { useIsFetching, useQueryClient } from '@tanstack/react-query';
import { timestampDate, type Timestamp } from '@bufbuild/protobuf/wkt';

/** Page tokens walked so far, so "Previous" goes back without the server keeping state. */
export function usePager() {
  const [tokens, setTokens] = useState<string[]>(['']);
  return {
    token: tokens[tokens.length - 1],
    page_number: tokens.length,
    next: (next_page_token: string) => setTokens((previous) => [...previous, next_page_token]),
    previous: () => setTokens((previous) => (previous.length > 1 ? previous.slice(0, -1) : previous)),
    reset: () => setTokens(['']),
  };
}

export type Pager = ReturnType<typeof usePager>;

export function PagerControls({ pager, nextPageToken, label }: { pager: Pager; nextPageToken: string | undefined; label: string }) {
  return (
    <nav className="pager" aria-label={`${label} pages`}>
      <button type="button" onClick={pager.previous} disabled={pager.page_number === 1}>
        ← Previous
      </button>
      <span>Page {pager.page_number}</span>
      <button type="button" onClick={() => nextPageToken && pager.next(nextPageToken)} disabled={!nextPageToken}>
        Next →
      </button>
    </nav>
  );
}

/** Shown inside the part of the page that is waiting, never over the whole page. */
export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status">
      <progress aria-label={`Loading ${what}`} /> Loading {what}…
    </p>
  );
}

/** Re-reads every query on the page (until the event stream pushes changes). */
export function RefreshButton() {
  const query_client = useQueryClient();
  const fetching = useIsFetching();
  return (
    <button type="button" className="refresh" onClick={() => query_client.invalidateQueries()} aria-busy={fetching > 0}>
      {fetching > 0 ? 'Refreshing…' : 'Refresh'}
    </button>
  );
}

export function formatTime(timestamp: Timestamp | undefined): string {
  if (!timestamp) return '';
  return timestampDate(timestamp).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function formatDate(timestamp: Timestamp | undefined): string {
  if (!timestamp) return '';
  return timestampDate(timestamp).toISOString().slice(0, 10);
}

/** Enum value names without their prefix: MOVEMENT_TYPE_RECEIVE → RECEIVE. */
export function enumLabel(names: Record<number, string>, value: number, prefix: string): string {
  return (names[value] ?? String(value)).replace(prefix, '');
}

export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section className="card" aria-label={title}>
      <header className="card-header">
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

/** A key/value list, e.g. an item's balances. */
export function Facts({ facts }: { facts: readonly [string, ReactNode][] }) {
  return (
    <dl className="facts">
      {facts.map(([name, value]) => (
        <div key={name}>
          <dt>{name}</dt>
          <dd data-fact={name}>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
