/**
 * The process: start Stockroom, stop it cleanly on SIGTERM or SIGINT.
 * A bad configuration value ends the process with one line naming the
 * variable and exit code 2, before anything starts.
 */
import { startStockroom } from './app.js';
import { ConfigError, loadConfig, type Config } from './server/config.js';
import { createLogger } from './server/logger.js';

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`stockroom: ${error.message}\n`);
  process.exit(2);
}

const logger = createLogger(config.log_level);
// Our handlers from the first moment: a signal during start-up waits for the
// start to finish and then stops cleanly (the default would kill the process
// and leave an embedded PostgreSQL behind). No library's handler runs: see
// embedded-postgres.ts.
let requested: NodeJS.Signals | undefined;
let stop = (signal: NodeJS.Signals) => {
  requested ??= signal;
};
process.on('SIGTERM', (signal) => stop(signal));
process.on('SIGINT', (signal) => stop(signal));
try {
  const stockroom = await startStockroom(config, logger);
  let stopping = false;
  stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stop requested');
    stockroom.stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'unclean shutdown');
        process.exit(1);
      },
    );
  };
  if (requested !== undefined) stop(requested);
} catch (error) {
  logger.fatal({ err: error }, 'could not start');
  process.exit(1);
}
