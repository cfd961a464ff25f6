/**
 * The first ADMIN, made the way an operator makes one (docs/admin.md): an ADMIN_EMAILS address
 * signs up (and is a USER), then verifies its address with the mailed code (and is ADMIN).
 * The code is read from the development outbox the test server writes to (DATA_DIR/outbox/),
 * so it works with any test server that has no SMTP_URL and no mailer of its own.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { signupUser, type SignedUp, type TestServer } from './harness';

export const VERIFY_EMAIL = 'mutation Verify($code: String!) { verifyEmail(code: $code) { id role emailVerified } }';

/** The newest verification code mailed to `email` through `server`'s outbox; waits up to 5 s for it. */
export async function outboxCode(server: TestServer, email: string): Promise<string> {
  const dir = path.join(server.config.dataDir, 'outbox');
  const deadline = Date.now() + 5_000;
  for (;;) {
    const files = (await readdir(dir).catch(() => [] as string[])).sort().reverse();
    for (const file of files) {
      const mail = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as { to: string; text: string };
      const code = /^\s+(\d{6})\s*$/m.exec(mail.text)?.[1];
      if (mail.to === email && code) return code;
    }
    if (Date.now() > deadline) throw new Error(`no verification mail to ${email} in ${dir}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Verifies a signed-up user's address with the code from its signup mail. */
export async function verifyByOutbox(server: TestServer, user: SignedUp): Promise<{ role: string; emailVerified: boolean }> {
  const code = await outboxCode(server, user.email);
  const result = await server.gql(VERIFY_EMAIL, { code }, { token: user.accessToken });
  if (result.body.errors) throw new Error(`verifyEmail failed: ${JSON.stringify(result.body.errors)}`);
  return result.body.data!.verifyEmail;
}

/**
 * Signs up `email` (listed in the server's ADMIN_EMAILS) and verifies it, so it is ADMIN. The
 * returned access token's session sees the new role at once.
 */
export async function signupAdmin(server: TestServer, email: string, name?: string): Promise<SignedUp> {
  const user = await signupUser(server, { email, name });
  const verified = await verifyByOutbox(server, user);
  if (verified.role !== 'ADMIN') throw new Error(`${email} is ${verified.role} after verification; is it in ADMIN_EMAILS?`);
  return { ...user, user: { ...user.user, role: 'ADMIN' } };
}
