/**
 * A few lines of routing over the History API: paths below /admin/ are the
 * console's pages (the server answers any of them with index.html), so a
 * page can be bookmarked, reloaded and opened in a new tab.
 */
import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react';

export const BASE_PATH = '/admin';
const CHANGE_EVENT = 'console:navigate';

function subscribe(notify: () => void): () => void {
  window.addEventListener('popstate', notify);
  window.addEventListener(CHANGE_EVENT, notify);
  return () => {
    window.removeEventListener('popstate', notify);
    window.removeEventListener(CHANGE_EVENT, notify);
  };
}

function currentPath(): string {
  const path = window.location.pathname.startsWith(BASE_PATH) ? window.location.pathname.slice(BASE_PATH.length) : '/';
  return path === '' ? '/' : path;
}

/** The path below /admin, e.g. `/items/sku-1`. */
export function usePath(): string {
  return useSyncExternalStore(subscribe, currentPath);
}

export function navigate(to: string): void {
  window.history.pushState(null, '', BASE_PATH + to);
  window.dispatchEvent(new Event(CHANGE_EVENT));
  window.scrollTo(0, 0);
}

/** Matches `/items/:id` style patterns; returns the decoded parameters or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const names: string[] = [];
  const regex = new RegExp('^' + pattern.replace(/:(\w+)/g, (_, name: string) => (names.push(name), '([^/]+)')) + '/?$');
  const found = regex.exec(path);
  if (!found) return null;
  return Object.fromEntries(names.map((name, index) => [name, decodeURIComponent(found[index + 1])]));
}

/** Encodes one path segment. */
export function segment(value: string): string {
  return encodeURIComponent(value);
}

export function Link({ to, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    // Let the browser open new tabs and windows itself.
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={BASE_PATH + to} onClick={onClick} {...rest} />;
}
