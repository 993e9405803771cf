/**
 * Who is calling, as the domain sees it: already authenticated by the server.
 * Every domain operation takes one, so no query can run without a tenant.
 */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Caller {
  /** Tenant whose rows this call may see; set on the transaction for row-level security. */
  readonly tenant_id: string;
  /** The user or service (JWT `sub`); recorded as the author of every movement. */
  readonly subject: string;
  readonly roles: ReadonlySet<Role>;
}

/** Per-call data a domain operation needs besides its input. */
export interface CallContext {
  readonly caller: Caller;
  /** Aborted when the client cancels or the deadline passes. */
  readonly signal?: AbortSignal;
}
