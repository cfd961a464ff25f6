/** Shared by the mail tests: the operations, and a Warden that sends to an in-process SMTP server. */
import { startTestServer, type StartOptions, type TestServer } from '../support/harness';
import { SmtpTestServer, type SmtpTestServerOptions } from '../support/smtp';

export const REQUEST_VERIFICATION = 'mutation { requestEmailVerification }';
export const VERIFY = 'mutation Verify($code: String!) { verifyEmail(code: $code) { id email emailVerified } }';
export const REQUEST_RESET = 'mutation Reset($email: String!) { requestPasswordReset(email: $email) }';
export const RESET = 'mutation Reset($token: String!, $newPassword: String!) { resetPassword(token: $token, newPassword: $newPassword) }';
export const ME = '{ me { id emailVerified } }';

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

/** The current value of a counter line in /metrics, e.g. `warden_mail_total{result="sent"}`. */
export async function metricValue(server: TestServer, line: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const escaped = line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`^${escaped} (\\d+)`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}
