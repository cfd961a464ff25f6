/**
 * Debian's Chromium driven by playwright-core (no browser download). One browser serves the whole
 * suite: jest's globalSetup launches it (launchSharedBrowser) when the run includes test/browser
 * on the PostgreSQL + Redis pass, and each file connects to it; a file run by a pattern that
 * skipped that launches its own.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserServer } from 'playwright-core';
import { describeUnless, servicesPass } from '../kit/env';

export const BROWSER_WS_ENV = 'WARDEN_TEST_BROWSER_WS';

/** The Chromium binary: CHROMIUM_PATH, else Debian's (the real binary behind /usr/bin/chromium's wrapper). */
export function chromiumPath(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((candidate): candidate is string => Boolean(candidate) && existsSync(candidate!));
}

export const SERVICES_PASS_ONLY =
  'skipped: runs in the PostgreSQL + Redis pass only (DATABASE_URL and REDIS_URL set); it drives a real browser';
export const NO_CHROMIUM = 'skipped: Chromium is not installed (Debian package chromium, as .ci/run installs; or set CHROMIUM_PATH)';

/**
 * A browser suite: it runs in the PostgreSQL + Redis pass only, and needs Chromium (under CI a
 * missing Chromium fails the suite: CI installs it).
 */
export function describeInBrowser(name: string, fn: () => void): void {
  const reason = !servicesPass() ? SERVICES_PASS_ONLY : chromiumPath() ? null : NO_CHROMIUM;
  describeUnless(reason, name, fn, { failInCi: reason === NO_CHROMIUM });
}

function launchOptions() {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error(NO_CHROMIUM);
  return {
    executablePath,
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

/** globalSetup: starts the suite's browser and publishes its endpoint to the test files (none without Chromium: the suites say why they skip). */
export async function launchSharedBrowser(): Promise<void> {
  if (!chromiumPath()) return;
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
