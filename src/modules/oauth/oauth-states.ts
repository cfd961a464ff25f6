/**
 * Pending OAuth sign-ins, kept in the shared store so any instance can finish what another
 * started. Each is stored under a SHA-256 of its `state` (the store never holds a usable state),
 * expires after `ttlMs`, and is taken at most once: take() reads and deletes in one step.
 */
import { createHash } from 'node:crypto';
import { SingleUseStore } from '../../infra/single-use-store';
import type { Store } from '../../infra/store';
import type { Clock } from '../../lib/clock';

/** What start… remembers for finish…. */
export interface PendingOAuth {
  provider: string;
  purpose: 'login' | 'link';
  /** The user who started a link; null for a sign-in. */
  userId: string | null;
  redirectUri: string;
  codeVerifier: string;
  nonce: string;
  /** SHA-256 (base64url) of the browser-binding cookie of the browser that started it. */
  browser: string;
}

export function hashOf(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

export class OAuthStates {
  private readonly records: SingleUseStore<PendingOAuth>;

  constructor(store: Store, clock: Clock, ttlMs: number) {
    // Stored under `warden:oauth:` + the state's SHA-256, as before the records moved to SingleUseStore.
    this.records = new SingleUseStore(store, clock, 'warden:oauth:', ttlMs, 'oauth state');
  }

  /** @throws StoreUnavailableError */
  put(state: string, pending: PendingOAuth): Promise<void> {
    return this.records.put(state, pending);
  }

  /** The pending sign-in for `state`, removed so it cannot be used again; null when unknown or expired. @throws StoreUnavailableError */
  take(state: string): Promise<PendingOAuth | null> {
    return this.records.take(state);
  }
}
