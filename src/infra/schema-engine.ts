/**
 * Prisma's schema engine as WebAssembly (@prisma/schema-engine-wasm), so migrations need no
 * native schema-engine binary. The package is ESM-only and its entry imports a .wasm, which Node
 * cannot load: the wasm is instantiated here by hand, one instance per process, reloaded after a
 * panic.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { openTarget, type MigrationTarget } from './migration-adapters';

// `module: node16` keeps this a native import() in the CommonJS output (jest: swc `ignoreDynamic`).
const importEngine = () => import('@prisma/schema-engine-wasm/schema_engine_bg');
type EngineModule = Awaited<ReturnType<typeof importEngine>>;
export type SchemaEngine = Awaited<ReturnType<EngineModule['SchemaEngine']['new']>>;
export type DiffTarget = Parameters<SchemaEngine['diff']>[0]['from'];
export type MigrationList = Parameters<SchemaEngine['applyMigrations']>[0]['migrationsList'];
export type SchemaContainer = Extract<DiffTarget, { tag: 'schemaDatamodel' }>['files'][number];

// Not in lib ES2023 nor @types/node 20; only what is used here.
declare const WebAssembly: {
  instantiate(bytes: Uint8Array, imports: Record<string, unknown>): Promise<{ instance: { exports: unknown } }>;
  RuntimeError: new (message?: string) => Error;
};

export const NO_FILTERS = { externalTables: [], externalEnums: [] };

let enginePromise: Promise<EngineModule> | undefined;
const engineTimers = new Set<ReturnType<typeof setTimeout>>();
/** Set by the engine's panic hook (it calls `global.PRISMA_WASM_PANIC_REGISTRY.set_message`). */
let lastPanic: string | undefined;

function loadEngine(): Promise<EngineModule> {
  enginePromise ??= (async () => {
    const g = globalThis as { PRISMA_WASM_PANIC_REGISTRY?: { set_message(message: string): void } };
    g.PRISMA_WASM_PANIC_REGISTRY ??= { set_message: (message) => void (lastPanic = message) };
    const bg = await importEngine();
    const wasmFile = path.join(path.dirname(require.resolve('@prisma/schema-engine-wasm/schema_engine_bg')), 'schema_engine_bg.wasm');
    // The engine arms timers (e.g. a 10 s lock timeout) that outlive the call and would keep the
    // process alive after the work is done: route them through `engineTimers`, cleared after each
    // operation.
    const imports: Record<string, unknown> = { ...bg };
    for (const key of Object.keys(bg).filter((k) => k.startsWith('__wbg_setTimeout_'))) {
      imports[key] = (callback: () => void, ms: number) => {
        const timer = setTimeout(() => {
          engineTimers.delete(timer);
          callback();
        }, ms >>> 0);
        engineTimers.add(timer);
        return timer;
      };
    }
    const { instance } = await WebAssembly.instantiate(readFileSync(wasmFile), { './schema_engine_bg.js': imports });
    const exports = instance.exports as { __wbindgen_start(): void };
    bg.__wbg_set_wasm(exports);
    exports.__wbindgen_start();
    return bg;
  })();
  enginePromise.catch(() => (enginePromise = undefined));
  return enginePromise;
}

/**
 * Runs `fn` with a schema engine connected to `target`, one operation at a time per process (they
 * share one wasm instance); the engine, its timers and the connections are released afterwards.
 */
let queue: Promise<unknown> = Promise.resolve();

export async function withEngine<T>(
  target: MigrationTarget,
  schema: SchemaContainer | undefined,
  fn: (engine: SchemaEngine) => Promise<T>,
): Promise<T> {
  const run = queue.then(async () => {
    const bg = await loadEngine();
    const conn = openTarget(target);
    let engine: SchemaEngine | undefined;
    try {
      const datamodels: Array<[string, string]> | undefined = schema && [[schema.path, schema.content]];
      engine = await bg.SchemaEngine.new({ datamodels }, () => undefined, conn.factory);
      return await fn(engine);
    } catch (error) {
      if (error instanceof WebAssembly.RuntimeError) {
        // After a panic the wasm instance is unusable: load a fresh one next time.
        enginePromise = undefined;
        throw new Error(`schema engine panicked: ${lastPanic ?? (error as Error).message}`, { cause: error });
      }
      throw error;
    } finally {
      try {
        engine?.free();
      } finally {
        for (const timer of engineTimers) clearTimeout(timer);
        engineTimers.clear();
        await conn.close();
      }
    }
  });
  queue = run.catch(() => undefined);
  return run;
}

/** The engine's message without its Rust span trace ("   0: …"), on one line. */
export function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const line = text
    .split(/\n\s*0: /)[0]
    .split('\n')
    .map((part) => part.trim())
    .filter((part) => part && part !== 'external connector error')
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
  return line || 'unknown error';
}
