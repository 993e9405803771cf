/**
 * Per-call values that travel from interceptors to handlers in Connect's
 * typed context values, never in globals.
 */
import { createContextKey, type HandlerContext } from '@connectrpc/connect';
import type { CallContext, Caller } from '../shared/caller.js';

export const CALLER_KEY = createContextKey<Caller | undefined>(undefined, { description: 'authenticated caller' });

/** The domain's view of a call: who calls, and the signal that ends it. */
export function callContext(context: HandlerContext): CallContext {
  const caller = context.values.get(CALLER_KEY);
  // The auth interceptor runs before every non-open method; a handler
  // without a caller means the permission table and the router disagree.
  if (!caller) throw new Error(`no authenticated caller for ${context.service.typeName}/${context.method.name}`);
  return { caller, signal: context.signal };
}
