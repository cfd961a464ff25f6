/**
 * A private PostgreSQL instance (initdb into a temporary directory, on a free port) that a test
 * may restart or stop without touching the shared cluster others use. Needs the server binaries
 * (Debian's postgresql package puts them in /usr/lib/postgresql/<version>/bin); as root it runs
 * them as the postgres user, since PostgreSQL refuses to run as root.
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports';

const run = promisify(execFile);

const USER = 'warden';
const PASSWORD = 'warden';

/** The newest installed server's bin directory, or null. */
function findBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((entry) => existsSync(path.join(root, entry, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? path.join(root, versions[0], 'bin') : null;
}

/** The postgres system user's ids, when running as root (who may not run the server). */
function postgresUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((entry) => entry.startsWith('postgres:'));
    if (!line) return null;
    const [, , uid, gid] = line.split(':');
    return { uid: Number(uid), gid: Number(gid) };
  } catch {
    return null;
  }
}

const binDir = findBinDir();
const runAs = postgresUser();

/** Why a private PostgreSQL cannot be started here, or null when it can. */
export const privatePostgresUnavailable: string | null = !binDir
  ? 'skipped: no PostgreSQL server binaries under /usr/lib/postgresql (install Debian package postgresql to run these)'
  : process.getuid?.() === 0 && !runAs
    ? 'skipped: running as root and there is no postgres user to run the server as'
    : null;

export class PostgresServer {
  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {}

  /** postgresql://warden:warden@127.0.0.1:<port>/<database> */
  url(database = 'postgres'): string {
    return `postgresql://${USER}:${PASSWORD}@127.0.0.1:${this.port}/${database}`;
  }

  private get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  private async pg(tool: string, args: string[]): Promise<void> {
    const command = path.join(binDir!, tool);
    if (runAs) await run('runuser', ['-u', 'postgres', '--', command, ...args], { timeout: 60_000 });
    else await run(command, args, { timeout: 60_000 });
  }

  /** initdb (a superuser `warden` with a SCRAM password, as a real server has) and start. */
  static async start(): Promise<PostgresServer> {
    if (privatePostgresUnavailable) throw new Error(privatePostgresUnavailable);
    const dir = mkdtempSync(path.join(tmpdir(), 'warden-pg-'));
    chmodSync(dir, 0o700);
    const pwfile = path.join(dir, 'pwfile');
    writeFileSync(pwfile, `${PASSWORD}\n`);
    if (runAs) {
      chownSync(dir, runAs.uid, runAs.gid);
      chownSync(pwfile, runAs.uid, runAs.gid);
    }
    const server = new PostgresServer(dir, await freePort());
    try {
      await server.pg('initdb', [
        '-D',
        server.dataDir,
        '-U',
        USER,
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '--no-sync',
        '-E',
        'UTF8',
        '--locale=C',
      ]);
      await server.startServer();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  private async startServer(): Promise<void> {
    const options = [
      `-p ${this.port}`,
      '-c listen_addresses=127.0.0.1',
      `-c unix_socket_directories=${this.dir}`,
      // A throwaway instance: durability to the OS cache is enough, and it starts faster.
      '-c fsync=off',
      '-c full_page_writes=off',
      '-c max_connections=60',
    ].join(' ');
    await this.pg('pg_ctl', ['-D', this.dataDir, '-l', path.join(this.dir, 'server.log'), '-o', options, '-w', '-t', '30', 'start']);
  }

  /**
   * Restarts the server as `pg_ctlcluster … restart` does (fast mode: open sessions are
   * terminated, in-flight transactions rolled back), waiting until it accepts connections again.
   */
  async restart(): Promise<void> {
    await this.pg('pg_ctl', ['-D', this.dataDir, '-m', 'fast', '-w', '-t', '30', 'stop']);
    await this.startServer();
  }

  /** Stops the server (immediately) and removes its files. */
  async stop(): Promise<void> {
    if (existsSync(path.join(this.dataDir, 'postmaster.pid'))) {
      await this.pg('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
