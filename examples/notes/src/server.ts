/**
 * Warden with the application's resolvers: configured from the environment as `warden` itself
 * is (JWT_SECRET, DATABASE_URL, REDIS_URL …), listening on PORT.
 */
import 'reflect-metadata';
import { ConfigError, createWarden, loadConfig } from 'warden';
import { NotesResolver } from './notes.resolver';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const warden = await createWarden(config, { resolvers: [NotesResolver] });
  const { host, port } = await warden.listen();
  console.log(`Notes app ready at http://${host}:${port}/graphql`);

  const stop = () => {
    warden.close().then(
      () => process.exit(0),
      (error) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

void main();
