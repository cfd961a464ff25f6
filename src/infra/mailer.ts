/**
 * Outgoing mail behind one interface. Without SMTP_URL each message is written as a JSON file to
 * DATA_DIR/outbox/ and a log line says where; with SMTP_URL it is sent by nodemailer.
 * Sending never blocks or fails a GraphQL response: services hand messages to a `MailQueue`,
 * which sends them in the background with retries and lets shutdown wait for them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import nodemailer, { type Transporter } from 'nodemailer';
import { parseConnectionUrl } from 'nodemailer/lib/shared';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import type { Logger } from 'pino';
import { pause, type BackgroundTasks } from '../lib/background';
import type { Metrics } from './metrics';
import { inSpan } from './tracing';

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
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = path.join(this.dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.json`);
    await writeFile(file, JSON.stringify({ from: this.from, ...message, date: new Date().toISOString() }, null, 2), { mode: 0o600 });
    this.logger.info({ to: message.to, subject: message.subject, file }, 'mail written to the development outbox');
  }

  async close(): Promise<void> {}
}

/**
 * nodemailer waits minutes by default (2 min to connect, 10 min of socket silence); these
 * bounds keep a stuck server from holding a message, and shutdown, that long. Options in the
 * SMTP_URL query string (`?connectionTimeout=…`) win.
 */
const SMTP_DEFAULTS: SMTPTransport.Options = {
  connectionTimeout: 10_000,
  greetingTimeout: 10_000,
  socketTimeout: 30_000,
};

export class SmtpMailer implements Mailer {
  private readonly transport: Transporter<SMTPTransport.SentMessageInfo>;

  /**
   * `url` is an SMTP_URL: `smtp://user:pass@host:587` (STARTTLS when the server offers it),
   * `smtps://…:465` (TLS from the start); nodemailer options go in the query string, e.g.
   * `?requireTLS=true`, `?ignoreTLS=true`, `?pool=true`, `?tls.rejectUnauthorized=false`.
   */
  constructor(
    url: string,
    private readonly from: string,
    private readonly logger: Logger,
  ) {
    this.transport = nodemailer.createTransport({ ...SMTP_DEFAULTS, ...parseConnectionUrl(url) });
  }

  async send(message: MailMessage): Promise<void> {
    const info = await this.transport.sendMail({ from: this.from, ...message });
    this.logger.info({ to: message.to, subject: message.subject, messageId: info.messageId }, 'mail sent');
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}

export interface SendOptions {
  /** Attempts in all (default 4). */
  attempts?: number;
  /** Wait before the second attempt; each later wait is 4 times longer (default 500 ms: 0.5 s, 2 s, 8 s). */
  retryDelayMs?: number;
  /** When aborted (shutdown), the remaining attempts are made without waiting. */
  signal?: AbortSignal;
  metrics?: Metrics;
}

/**
 * Sends with a few retries; failures are logged, never thrown. Resolves to whether the message
 * was delivered (to the SMTP server, or to the outbox).
 */
export function sendLater(mailer: Mailer, message: MailMessage, logger: Logger, options: SendOptions = {}): Promise<boolean> {
  // The span names neither the recipient nor the subject: only the transport, the attempts and the outcome.
  return inSpan(
    'mail.send',
    { 'warden.mail.transport': mailer instanceof SmtpMailer ? 'smtp' : 'outbox' },
    async (span) => {
      const delivered = await sendWithRetries(mailer, message, logger, options, (attempt) => span.set('warden.mail.attempts', attempt));
      span.set('warden.mail.delivered', delivered);
      return delivered;
    },
    'client',
  );
}

// Not p-retry: at shutdown the remaining attempts are made without waiting, and p-retry's signal
// instead gives up on the mail (its last CommonJS release, 4.x, has no signal and never retries a TypeError).
async function sendWithRetries(
  mailer: Mailer,
  message: MailMessage,
  logger: Logger,
  options: SendOptions,
  onAttempt: (attempt: number) => void,
): Promise<boolean> {
  const attempts = options.attempts ?? 4;
  const baseDelay = options.retryDelayMs ?? 500;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    onAttempt(attempt);
    try {
      await mailer.send(message);
      options.metrics?.mail.inc({ result: 'sent' });
      return true;
    } catch (error) {
      const last = attempt === attempts;
      options.metrics?.mail.inc({ result: last ? 'failed' : 'retried' });
      logger.warn(
        { err: error, attempt, of: attempts, subject: message.subject },
        last ? 'sending mail failed; giving up' : 'sending mail failed; will retry',
      );
      if (!last) await pause(baseDelay * 4 ** (attempt - 1), options.signal);
    }
  }
  logger.error({ to: message.to, subject: message.subject }, 'mail not sent after retries');
  return false;
}

/** Hands messages to the background: `enqueue` returns at once and never throws. */
export class MailQueue {
  constructor(
    private readonly deps: {
      mailer: Mailer;
      background: BackgroundTasks;
      logger: Logger;
      metrics?: Metrics;
      attempts?: number;
      retryDelayMs?: number;
    },
  ) {}

  /** Sends in the background with retries. The promise (which never rejects) settles when it is done. */
  enqueue(message: MailMessage): Promise<void> {
    const { mailer, background, logger, metrics, attempts, retryDelayMs } = this.deps;
    return background.run(`mail: ${message.subject}`, () =>
      sendLater(mailer, message, logger, { attempts, retryDelayMs, metrics, signal: background.shutdownSignal }),
    );
  }
}

export function createMailer(options: { smtpUrl?: string; from: string; dataDir: string; logger: Logger }): Mailer {
  return options.smtpUrl
    ? new SmtpMailer(options.smtpUrl, options.from, options.logger)
    : new OutboxMailer(path.join(options.dataDir, 'outbox'), options.from, options.logger);
}
