/**
 * The signed-in user: a bearer token kept in sessionStorage (gone when the
 * tab closes, never in a URL after load). The payload is decoded here only to
 * show who is signed in and to hide actions the role lacks; the server
 * verifies the token and refuses what the role may not do.
 */
export type Role = 'viewer' | 'operator' | 'admin';

export interface Session {
  readonly token: string;
  readonly subject: string;
  readonly tenant: string;
  /** The highest role the token carries. */
  readonly role: Role | undefined;
  /** Expiry in ms since the epoch, if the token has one. */
  readonly expires_ms: number | undefined;
}

const STORAGE_KEY = 'stockroom.console.token';
const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

/** Moves `#token=…` from the address bar into sessionStorage, then drops it from the URL and history. */
export function adoptTokenFromUrl(): void {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!match) return;
  const token = decodeURIComponent(match[1]);
  if (decodeToken(token)) sessionStorage.setItem(STORAGE_KEY, token);
  window.history.replaceState(window.history.state, '', window.location.pathname + window.location.search);
}

export function loadSession(): Session | null {
  const token = sessionStorage.getItem(STORAGE_KEY);
  return token ? decodeToken(token) : null;
}

export function storeToken(token: string): Session | null {
  const session = decodeToken(token.trim());
  if (session) sessionStorage.setItem(STORAGE_KEY, session.token);
  return session;
}

export function signOut(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

export function currentToken(): string | null {
  return sessionStorage.getItem(STORAGE_KEY);
}

/** True when the session's role is at least `required` (admin > operator > viewer). */
export function allows(session: Session | null, required: Role): boolean {
  return session?.role !== undefined && RANK[session.role] >= RANK[required];
}

/** Reads a JWT's claims without verifying it (display only). Null for anything that is not a JWT. */
export function decodeToken(token: string): Session | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  let claims: Record<string, unknown>;
  try {
    const base64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    claims = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
  const roles = rolesOf(claims);
  return {
    token,
    subject: typeof claims.sub === 'string' ? claims.sub : '',
    tenant: tenantOf(claims),
    role: roles.sort((a, b) => RANK[b] - RANK[a])[0],
    expires_ms: typeof claims.exp === 'number' ? claims.exp * 1000 : undefined,
  };
}

// The server's claim names are configurable; the default names come first,
// then any claim that looks like one (display only).
function tenantOf(claims: Record<string, unknown>): string {
  const key = 'tenant' in claims ? 'tenant' : Object.keys(claims).find((name) => /tenant|org/i.test(name));
  const value = key ? claims[key] : undefined;
  return typeof value === 'string' ? value : '';
}

function rolesOf(claims: Record<string, unknown>): Role[] {
  const key = 'roles' in claims ? 'roles' : Object.keys(claims).find((name) => /role|scope/i.test(name));
  const value = key ? claims[key] : undefined;
  const names = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[\s,]+/) : [];
  return names.filter((name): name is Role => name in RANK);
}
