// Bundles src/main.ts for the browser into dist/, next to index.html and style.css.
// WARDEN_URL is Warden's GraphQL endpoint, fixed at build time (the app talks to no other);
// OUT_DIR (default dist) is where the app goes.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const wardenUrl = new URL(process.env.WARDEN_URL ?? 'http://localhost:4000/graphql').href;
const outdir = path.resolve(here, process.env.OUT_DIR ?? 'dist');

mkdirSync(outdir, { recursive: true });
await build({
  entryPoints: [path.join(here, 'src', 'main.ts')],
  outfile: path.join(outdir, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
  define: { __WARDEN_URL__: JSON.stringify(wardenUrl) },
});
for (const file of ['index.html', 'style.css']) copyFileSync(path.join(here, file), path.join(outdir, file));
console.log(`built dist/ for Warden at ${wardenUrl}`);
