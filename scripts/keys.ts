/**
 * `npm run keys:list`, `npm run keys:rotate`, `npm run keys:revoke <kid>` (JWT_ALGORITHM=ES256):
 * reads the same configuration as the server. With the embedded database, stop Warden first
 * (one process at a time may open it); with DATABASE_URL, run it beside the running instances.
 */
import { ConfigError, loadConfig } from '../src/config';
import { openDatabase } from '../src/infra/database';
import { createLogger } from '../src/infra/logger';
import { systemClock } from '../src/lib/clock';
import { runKeysCommand } from '../src/modules/keys';

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, logger });
  try {
    return await runKeysCommand(process.argv.slice(2), {
      prisma: database.prisma,
      config,
      logger,
      clock: systemClock,
      print: (line) => console.log(line),
    });
  } finally {
    await database.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
