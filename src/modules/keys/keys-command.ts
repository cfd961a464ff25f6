/**
 * `npm run keys:list`, `npm run keys:rotate`, `npm run keys:revoke <kid>`: what the scripts do,
 * apart from opening the database, so tests run it against a live pair of instances.
 * Output names kids, states and times, never key material.
 */
import type { Logger } from 'pino';
import type { Config } from '../../config';
import type { PrismaClient } from '../../generated/prisma/client';
import type { Clock } from '../../lib/clock';
import { SigningKeys, type KeyInfo } from './signing-keys';

export interface KeysCommandDeps {
  prisma: PrismaClient;
  config: Config;
  logger: Logger;
  clock: Clock;
  print(line: string): void;
}

const USAGE = 'usage: keys list | keys rotate | keys revoke <kid>';

function describe(key: KeyInfo): string {
  const parts = [
    `${key.kid}  ${key.algorithm}  ${key.state}`,
    `created ${key.createdAt.toISOString()}`,
    `signs from ${key.activatesAt.toISOString()}`,
  ];
  if (key.stoppedSigningAt) parts.push(`stopped signing ${key.stoppedSigningAt.toISOString()}`);
  if (key.revokedAt) parts.push(`revoked ${key.revokedAt.toISOString()}`);
  return parts.join('  ');
}

/** Runs one command; resolves to the process exit code. */
export async function runKeysCommand(args: readonly string[], deps: KeysCommandDeps): Promise<number> {
  const [command, kid, ...rest] = args;
  if (deps.config.jwtAlgorithm !== 'ES256') {
    deps.print('JWT_ALGORITHM is HS256: there are no signing keys to manage (the key is JWT_SECRET)');
    return 2;
  }
  if (!['list', 'rotate', 'revoke'].includes(command ?? '') || (command === 'revoke') !== Boolean(kid) || rest.length > 0) {
    deps.print(USAGE);
    return 2;
  }
  const keys = await SigningKeys.open(
    {
      prisma: deps.prisma,
      clock: deps.clock,
      logger: deps.logger,
      secret: deps.config.jwtSecret,
      previousSecret: deps.config.jwtSecretPrevious,
      rotationMs: deps.config.jwtKeyRotationMs,
      jwksMaxAgeMs: deps.config.jwksMaxAgeMs,
      accessTokenTtlMs: deps.config.accessTokenTtlMs,
      clockSkewMs: deps.config.clockSkewMs,
    },
    { maintain: false },
  );
  try {
    if (command === 'rotate') {
      const next = await keys.rotate();
      deps.print(`next key ${next.kid} is published and signs from ${next.activatesAt.toISOString()}`);
    } else if (command === 'revoke') {
      const revoked = await keys.revoke(kid);
      if (!revoked) {
        deps.print(`no signing key has the kid ${JSON.stringify(kid)}`);
        return 1;
      }
      deps.print(
        `revoked ${revoked.kid}: gone from the JWKS, its tokens refused on every instance within ${Math.ceil(keys.refreshMs / 1000)}s`,
      );
    }
    for (const key of keys.list()) deps.print(describe(key));
    return 0;
  } finally {
    await keys.close();
  }
}
