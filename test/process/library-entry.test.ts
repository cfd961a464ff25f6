/**
 * The package's "." export is the library, not the server: requiring `warden` starts nothing,
 * and createWarden() builds a Warden that listens only when asked (the `warden` bin does that).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describeInEmbeddedPass } from '../kit';

const ROOT = path.join(__dirname, '..', '..');

beforeAll(() => {
  if (!existsSync(path.join(ROOT, 'dist', 'src', 'index.js')))
    throw new Error('dist/src/index.js is missing: run `npm run build` (npm test does)');
});

// Does not depend on the backend: runs in CI's embedded pass only.
describeInEmbeddedPass('the package entry', () => {
  it('exports createWarden from "." without starting a server, and names main.js as the bin', () => {
    // A module that listened on import would keep this process alive past the timeout (or log "ready").
    const script = `
      const warden = require('warden');
      console.log(JSON.stringify({
        resolved: require.resolve('warden'),
        createWarden: typeof warden.createWarden,
        loadConfig: typeof warden.loadConfig,
      }));`;
    const output = execFileSync(process.execPath, ['-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 15_000,
      env: { PATH: process.env.PATH ?? '' },
    });
    expect(JSON.parse(output)).toEqual({
      resolved: path.join(ROOT, 'dist', 'src', 'index.js'),
      createWarden: 'function',
      loadConfig: 'function',
    });
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(manifest.bin).toEqual({ warden: 'dist/src/main.js' });
    expect(readFileSync(path.join(ROOT, manifest.bin.warden), 'utf8').startsWith('#!/usr/bin/env node')).toBe(true);
  });
});
