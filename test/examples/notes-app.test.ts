/**
 * examples/notes, installed the way a user installs Warden: from `npm pack` output (the server
 * package and the client package it depends on), not from ../../src. The example is compiled
 * against the package's published types and started as its own process; its resolvers answer
 * next to Warden's and are guarded by the same @auth/@public rule.
 *
 * Offline and fast: the tarballs are unpacked into the example's node_modules, and every other
 * dependency is linked from this repository's node_modules, as an `npm install` would resolve them.
 * Runs in the embedded pass only (it starts on the embedded defaults; the PostgreSQL + Redis pass
 * would only repeat it).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeInEmbeddedPass, SIGNUP, uniqueEmail } from '../kit';

const ROOT = path.resolve(__dirname, '..', '..');
const EXAMPLE = path.join(ROOT, 'examples', 'notes');

/** `npm pack` in `cwd`; returns the tarball's path. Scripts off: the build is already done. */
function pack(cwd: string, destination: string): string {
  const output = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', destination], {
    cwd,
    encoding: 'utf8',
  });
  return path.join(destination, output.trim().split('\n').pop()!);
}

/** Unpacks an npm tarball (its files sit under package/) into `target`. */
function unpack(tarball: string, target: string): void {
  mkdirSync(target, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', target, '--strip-components=1']);
}

interface Running {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

async function startExample(appDir: string, env: Record<string, string>): Promise<Running> {
  const child = spawn(process.execPath, [path.join(appDir, 'dist', 'server.js')], {
    cwd: appDir,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const match = /Notes app ready at (http:\/\/\S+)/.exec(output);
    if (match) return { child, url: match[1], output: () => output, exited };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the example did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describeInEmbeddedPass('examples/notes, installed from npm pack output', () => {
  let work: string;
  let appDir: string;
  let app: Running | undefined;

  beforeAll(() => {
    for (const built of [path.join(ROOT, 'dist', 'src', 'index.js'), path.join(ROOT, 'packages', 'client', 'dist', 'index.js')]) {
      if (!existsSync(built)) throw new Error(`${path.relative(ROOT, built)} is missing: run \`npm run build\` (npm test compiles first)`);
    }
    work = mkdtempSync(path.join(tmpdir(), 'warden-example-'));
    const wardenTarball = pack(ROOT, work);
    const clientTarball = pack(path.join(ROOT, 'packages', 'client'), work);

    appDir = path.join(work, 'notes');
    cpSync(EXAMPLE, appDir, { recursive: true, filter: (source) => !/[/\\](node_modules|dist)$/.test(source) });
    const modules = path.join(appDir, 'node_modules');
    mkdirSync(modules);
    unpack(wardenTarball, path.join(modules, 'warden'));
    unpack(clientTarball, path.join(modules, '@warden', 'client'));
    for (const entry of readdirSync(path.join(ROOT, 'node_modules'))) {
      if (entry === '@warden' || entry === 'warden' || entry.startsWith('.')) continue;
      symlinkSync(path.join(ROOT, 'node_modules', entry), path.join(modules, entry));
    }
    // Compiled against the package's published types: only what `warden` exports is reachable.
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], {
      cwd: appDir,
      encoding: 'utf8',
    });
  }, 120_000);

  afterAll(async () => {
    if (app && app.child.exitCode === null) {
      app.child.kill('SIGKILL');
      await app.exited;
    }
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships the library, the CLI, the migrations and the client, and nothing from src/ or test/', () => {
    const shipped = (dir: string) => readdirSync(dir);
    expect(shipped(path.join(appDir, 'node_modules', 'warden')).sort()).toEqual(
      expect.arrayContaining(['dist', 'package.json', 'prisma', 'schema.graphql']),
    );
    expect(shipped(path.join(appDir, 'node_modules', 'warden'))).not.toEqual(expect.arrayContaining(['src', 'test', 'bench']));
    expect(existsSync(path.join(appDir, 'node_modules', 'warden', 'prisma', 'migrations'))).toBe(true);
    expect(existsSync(path.join(appDir, 'node_modules', 'warden', 'dist', 'src', 'main.js'))).toBe(true);
    expect(existsSync(path.join(appDir, 'node_modules', '@warden', 'client', 'dist', 'index.js'))).toBe(true);
  });

  it("starts, answers its own fields under Warden's @auth/@public rule next to Warden's, and stops on SIGTERM", async () => {
    app = await startExample(appDir, {
      JWT_SECRET: 'example-secret-that-is-at-least-32-bytes!!',
      BCRYPT_COST: '4',
      DATA_DIR: path.join(work, 'data'),
    });
    const gql = async (query: string, variables: object = {}, token?: string): Promise<any> => {
      const response = await fetch(app!.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      return response.json();
    };

    const anonymous = await gql('{ myNotes { text } }');
    expect(anonymous.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect((await gql('{ noteCount }')).data).toEqual({ noteCount: 0 });

    const signup = await gql(SIGNUP, { input: { email: uniqueEmail('notes'), password: 'correct horse battery', name: 'Ada' } });
    const token: string = signup.data.signup.accessToken;
    const added = await gql('mutation($text: String!) { addNote(text: $text) { id text } }', { text: '  remember the milk ' }, token);
    expect(added.data.addNote.text).toBe('remember the milk');
    const invalid = await gql('mutation { addNote(text: "   ") { id } }', {}, token);
    expect(invalid.errors[0].extensions.code).toBe('BAD_USER_INPUT');

    const mine = await gql('{ me { name } myNotes { text } noteCount }', {}, token);
    expect(mine).toEqual({ data: { me: { name: 'Ada' }, myNotes: [{ text: 'remember the milk' }], noteCount: 1 } });
    const notAdmin = await gql('mutation { clearNotes }', {}, token);
    expect(notAdmin.errors[0].extensions.code).toBe('FORBIDDEN');

    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(0);
  }, 90_000);
});
