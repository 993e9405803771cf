// pg's own bind-value conversion (pg/lib/utils.js), which @types/pg does not declare.
declare module 'pg/lib/utils.js' {
  export function prepareValue(value: unknown): unknown;
}
