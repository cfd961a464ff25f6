/** The tokens a client holds. In cookie transport the refresh token lives in the cookie: null here. */
export interface WardenTokens {
  accessToken: string | null;
  refreshToken: string | null;
}

type MaybePromise<T> = T | Promise<T>;

/**
 * Where the client keeps its tokens. Methods may be synchronous (memory, localStorage) or
 * asynchronous (React Native's AsyncStorage, a keychain). `load` runs once at start and again
 * before each refresh, so a token another tab stored in a shared store is used instead of
 * refreshing twice.
 */
export interface TokenStore {
  load(): MaybePromise<WardenTokens | null>;
  save(tokens: WardenTokens): MaybePromise<void>;
  clear(): MaybePromise<void>;
}

/** The default: tokens live in this page's memory and are gone on reload. */
export function memoryTokenStore(initial: Partial<WardenTokens> = {}): TokenStore {
  let tokens: WardenTokens | null =
    initial.accessToken || initial.refreshToken
      ? { accessToken: initial.accessToken ?? null, refreshToken: initial.refreshToken ?? null }
      : null;
  return {
    load: () => tokens,
    save: (next) => {
      tokens = { ...next };
    },
    clear: () => {
      tokens = null;
    },
  };
}

/** The part of the Web Storage API (`localStorage`, `sessionStorage`) the store uses. */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Keeps the tokens in `localStorage` or `sessionStorage` under one key, so they survive a reload
 * and tabs share them. Anything that runs script on the page can read them there; prefer memory
 * plus cookie transport when that matters.
 */
export function webStorageTokenStore(storage: KeyValueStorage, key = 'warden.tokens'): TokenStore {
  return {
    load: () => {
      const raw = storage.getItem(key);
      if (!raw) return null;
      try {
        const parsed = JSON.parse(raw) as Partial<WardenTokens>;
        return { accessToken: parsed.accessToken ?? null, refreshToken: parsed.refreshToken ?? null };
      } catch {
        return null;
      }
    },
    save: (tokens) => storage.setItem(key, JSON.stringify(tokens)),
    clear: () => storage.removeItem(key),
  };
}
