/** jest globalTeardown: closes what globalSetup started for the whole run (the browser suite's Chromium). */
import { closeSharedBrowser } from '../browser/browser';

export default async function globalTeardown(): Promise<void> {
  await closeSharedBrowser();
}
