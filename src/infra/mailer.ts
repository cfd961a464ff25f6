/**
 * Outgoing mail behind one interface. Without SMTP_URL each message is written as a JSON file to
 * DATA_DIR/outbox/ and a log line says where; with SMTP_URL it is sent by nodemailer.
 * Sending never blocks or fails a GraphQL response: callers use `sendLater`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from 'pino';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface Mailer {
  send(message: MailMessage): Promise<void>;
  close(): Promise<void>;
}

export class OutboxMailer implements Mailer {
  constructor(
    private readonly dir: string,
    private readonly from: string,
    private readonly logger: Logger,
  ) {}

  async send(message: MailMessage): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const file = path.join(this.dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.json`);
    await writeFile(file, JSON.stringify({ from: this.from, ...message, date: new Date().toISOString() }, null, 2), { mode: 0o600 });
    this.logger.info({ to: message.to, subject: message.subject, file }, 'mail written to the development outbox');
  }

  async close(): Promise<void> {}
}

export class SmtpMailer implements Mailer {
  private readonly transport: Transporter;

  constructor(
    url: string,
    private readonly from: string,
  ) {
    this.transport = nodemailer.createTransport(url);
  }

  async send(message: MailMessage): Promise<void> {
    await this.transport.sendMail({ from: this.from, ...message });
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}

/**
 * Sends in the background with a few retries; failures are logged, never thrown. Returns the
 * promise so tests and shutdown can wait for it.
 */
export function sendLater(mailer: Mailer, message: MailMessage, logger: Logger, attempts = 3): Promise<void> {
  const run = async () => {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        await mailer.send(message);
        return;
      } catch (error) {
        logger.warn({ err: error, attempt, subject: message.subject }, 'sending mail failed');
        if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt));
      }
    }
    logger.error({ subject: message.subject }, 'mail not sent after retries');
  };
  return run();
}

export function createMailer(options: { smtpUrl?: string; from: string; dataDir: string; logger: Logger }): Mailer {
  return options.smtpUrl
    ? new SmtpMailer(options.smtpUrl, options.from)
    : new OutboxMailer(path.join(options.dataDir, 'outbox'), options.from, options.logger);
}
