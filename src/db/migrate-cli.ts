/** `npm run migrate`: apply pending migrations to the configured (or embedded) database and exit. */
import { loadConfig } from '../server/config.js';
import { openDatabase } from './database.js';
import { createLogger } from '../server/logger.js';

const config = loadConfig();
const logger = createLogger(config.log_level);
const database = await openDatabase(config, logger);
await database.close();
