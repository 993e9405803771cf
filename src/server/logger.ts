/** Structured JSON logs (pino), one object per line, for people and log pipelines alike. */
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export function createLogger(level: LogLevel): Logger {
  return pino({
    level,
    base: { service: 'stockroom' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Tokens must never reach a log line, whatever a caller logs by mistake.
    redact: ['authorization', '*.authorization', 'token', '*.token'],
  });
}
