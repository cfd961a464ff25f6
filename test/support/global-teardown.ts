/** jest globalTeardown: closes what globalSetup started for the whole run (the browser suite's Chromium, further workers' services). */
import { closeSharedBrowser } from '../browser/browser';
import { stopAfterRun } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  await closeSharedBrowser();
  for (const stop of stopAfterRun.splice(0)) await stop();
}
