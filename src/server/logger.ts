/** Structured JSON logs (pino), one object per line, for people and log pipelines alike. */
import { pino, type DestinationStream, type Logger } from 'pino';
import { traceLogFields } from '../observability/tracing.js';
import type { LogLevel } from './config.js';

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = {
    level,
    // The call's trace id on every line it logs, when tracing is on.
    mixin: traceLogFields,
    base: { service: 'stockroom' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Tokens must never reach a log line, whatever a caller logs by mistake.
    redact: ['authorization', '*.authorization', 'token', '*.token'],
  };
  return destination ? pino(options, destination) : pino(options);
}
