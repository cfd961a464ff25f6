import bcrypt from 'bcrypt';

export const PASSWORD_MIN_BYTES = 8;
/** bcrypt reads at most 72 bytes; longer passwords are refused, never silently truncated. */
export const PASSWORD_MAX_BYTES = 72;

/** Why a password is not acceptable, or null when it is. */
export function passwordProblem(password: string): string | null {
  const bytes = Buffer.byteLength(password, 'utf8');
  if (bytes < PASSWORD_MIN_BYTES) return `must be at least ${PASSWORD_MIN_BYTES} bytes`;
  if (bytes > PASSWORD_MAX_BYTES) return `must be at most ${PASSWORD_MAX_BYTES} bytes of UTF-8`;
  return null;
}

export class PasswordHasher {
  private dummyHash: Promise<string> | undefined;

  constructor(private readonly cost: number) {}

  hash(password: string): Promise<string> {
    return bcrypt.hash(password, this.cost);
  }

  verify(password: string, hash: string): Promise<boolean> {
    return bcrypt.compare(password, hash);
  }

  /** Spends the same bcrypt time as a real check, so an unknown email is not told apart by timing. */
  async verifyDummy(password: string): Promise<false> {
    this.dummyHash ??= bcrypt.hash('warden-dummy-password', this.cost);
    await bcrypt.compare(password, await this.dummyHash);
    return false;
  }
}
