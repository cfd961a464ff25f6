/**
 * Debian's Chromium driven by playwright-core (no browser download). One browser serves the whole
 * suite: jest's globalSetup launches it (launchSharedBrowser) when the run includes test/browser
 * on the PostgreSQL + Redis pass, and each file connects to it; a file run by a pattern that
 * skipped that launches its own.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserServer } from 'playwright-core';

export const BROWSER_WS_ENV = 'WARDEN_TEST_BROWSER_WS';

/** The Chromium binary: CHROMIUM_PATH, else Debian's (the real binary behind /usr/bin/chromium's wrapper). */
export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  const found = candidates.find((candidate): candidate is string => Boolean(candidate) && existsSync(candidate!));
  if (!found) throw new Error('Chromium is not installed: `apt-get install chromium` (Debian), or set CHROMIUM_PATH');
  return found;
}

function launchOptions() {
  return {
    executablePath: chromiumPath(),
    headless: true,
    args: [
      // Test-only flags. Chromium's sandbox cannot start as root (CI runs in a container as root).
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      // `localhost` is 127.0.0.1, where the test servers listen (never ::1 first).
      '--host-resolver-rules=MAP localhost 127.0.0.1',
    ],
  };
}

let shared: BrowserServer | undefined;

/** globalSetup: starts the suite's browser and publishes its endpoint to the test files. */
export async function launchSharedBrowser(): Promise<void> {
  shared = await chromium.launchServer(launchOptions());
  process.env[BROWSER_WS_ENV] = shared.wsEndpoint();
}

/** globalTeardown */
export async function closeSharedBrowser(): Promise<void> {
  await shared?.close();
  shared = undefined;
}

/** The suite's browser (closing it disconnects), or one of this file's own. */
export async function openBrowser(): Promise<Browser> {
  const endpoint = process.env[BROWSER_WS_ENV];
  if (endpoint) return chromium.connect(endpoint);
  return chromium.launch(launchOptions());
}
