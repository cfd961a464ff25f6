/** Shared by the mail tests: the operations, and a Warden that sends to an in-process SMTP server. */
import { spawn } from 'node:child_process';
import { SmtpTestServer, type SmtpTestServerOptions } from '../support/smtp';
import { startTestServer, type StartOptions, type TestServer } from '../kit';

export const REQUEST_VERIFICATION = 'mutation { requestEmailVerification }';
export const VERIFY = 'mutation Verify($code: String!) { verifyEmail(code: $code) { id email emailVerified } }';
export const REQUEST_RESET = 'mutation Reset($email: String!) { requestPasswordReset(email: $email) }';
export const RESET = 'mutation Reset($token: String!, $newPassword: String!) { resetPassword(token: $token, newPassword: $newPassword) }';

export interface MailSetup {
  smtp: SmtpTestServer;
  server: TestServer;
  close(): Promise<void>;
}

/** An SMTP server and a Warden pointed at it through SMTP_URL, as an operator would. */
export async function startWithSmtp(options: StartOptions & { smtp?: SmtpTestServerOptions; smtpQuery?: string } = {}): Promise<MailSetup> {
  const smtp = await SmtpTestServer.start(options.smtp);
  const server = await startTestServer({ ...options, env: { SMTP_URL: smtp.url(options.smtpQuery), ...options.env } });
  return {
    smtp,
    server,
    async close() {
      await server.close();
      await smtp.close();
    },
  };
}

/**
 * Times GraphQL requests from a separate Node process, as a remote client would see them. In this
 * process the test's own fetch shares the event loop with the server, so work the server does
 * after answering (the point of requestPasswordReset) would slow down reading its answer.
 */
export interface TimingClient {
  /** Milliseconds from sending the request to having read the whole response. */
  time(url: string, query: string, variables: Record<string, unknown>): Promise<number>;
  close(): void;
}

const TIMING_CLIENT = `
process.on('message', async ({ url, body }) => {
  const started = performance.now();
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await response.text();
  process.send({ ms: performance.now() - started, status: response.status, text });
});
process.on('disconnect', () => process.exit(0));
`;

export function startTimingClient(): TimingClient {
  const child = spawn(process.execPath, ['-e', TIMING_CLIENT], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return {
    time(url, query, variables) {
      return new Promise((resolve, reject) => {
        child.once('message', (message: { ms: number; status: number; text: string }) => {
          if (message.status !== 200) reject(new Error(`status ${message.status}: ${message.text}`));
          else resolve(message.ms);
        });
        child.send({ url, body: JSON.stringify({ query, variables }) });
      });
    },
    close() {
      child.disconnect();
    },
  };
}
