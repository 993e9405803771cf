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
try {
  const stockroom = await startStockroom(config, logger);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
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
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (error) {
  logger.fatal({ err: error }, 'could not start');
  process.exit(1);
}
