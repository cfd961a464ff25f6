/**
 * A real SMTP server in the test process (smtp-server), whose messages are parsed with
 * mailparser. Tests read codes and tokens only from what it received, as a user would.
 *
 * It can also misbehave on purpose: refuse the next deliveries with a temporary error, hold
 * deliveries (the DATA command gets no answer until release()), or answer each after a delay.
 */
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';

export interface ReceivedMail {
  /** Envelope recipients. */
  to: string[];
  from: string;
  subject: string;
  text: string;
  html: string;
  /** Whether the connection was upgraded to TLS (STARTTLS) before the message. */
  secure: boolean;
  parsed: ParsedMail;
  receivedAt: number;
}

export interface SmtpTestServerOptions {
  /** Offer STARTTLS (with smtp-server's self-signed certificate). Off by default: plain SMTP. */
  starttls?: boolean;
}

export class SmtpTestServer {
  readonly received: ReceivedMail[] = [];
  private readonly taken = new Set<ReceivedMail>();
  private waiters: Array<() => void> = [];
  private failures = 0;
  private holding = false;
  private held: Array<() => void> = [];
  private heldCount = 0;
  private delayMs = 0;

  private constructor(
    private readonly server: SMTPServer,
    readonly port: number,
  ) {}

  static async start(options: SmtpTestServerOptions = {}): Promise<SmtpTestServer> {
    let self: SmtpTestServer | undefined;
    const config: SMTPServerOptions = {
      authOptional: true,
      disabledCommands: options.starttls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
      logger: false,
      closeTimeout: 200,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () =>
          self!.accept(
            Buffer.concat(chunks),
            session.envelope.rcptTo.map((r) => r.address),
            Boolean(session.secure),
            callback,
          ),
        );
      },
    };
    const server = new SMTPServer(config);
    server.on('error', () => undefined); // a client that hangs up mid-session is not a test failure
    const port = await new Promise<number>((resolve, reject) => {
      server.server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.server.address();
        resolve(typeof address === 'object' && address ? address.port : 0);
      });
    });
    self = new SmtpTestServer(server, port);
    return self;
  }

  /** SMTP_URL for Warden; `query` adds nodemailer options (`ignoreTLS=true`). */
  url(query = ''): string {
    return `smtp://127.0.0.1:${this.port}${query ? `/?${query}` : ''}`;
  }

  /** Refuses the next `count` messages with 451 (a temporary failure; the sender should retry). */
  failNext(count: number): void {
    this.failures = count;
  }

  /** Messages arriving from now on get no answer to DATA until release(). */
  hold(): void {
    this.holding = true;
  }

  /** Answers every held message (they are delivered) and stops holding. */
  release(): void {
    this.holding = false;
    const held = this.held;
    this.held = [];
    for (const deliver of held) deliver();
  }

  /** How many messages have been held so far. */
  get heldSoFar(): number {
    return this.heldCount;
  }

  /** Each later message is answered only after `ms`. */
  delay(ms: number): void {
    this.delayMs = ms;
  }

  /** Mail received for `address` so far. */
  mailsTo(address: string): ReceivedMail[] {
    return this.received.filter((mail) => mail.to.includes(address));
  }

  /** The oldest mail to `address` not returned before, waiting up to `timeoutMs` for one. */
  async nextMail(address: string, timeoutMs = 15_000): Promise<ReceivedMail> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const mail = this.mailsTo(address).find((candidate) => !this.taken.has(candidate));
      if (mail) {
        this.taken.add(mail);
        return mail;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no mail to ${address} within ${timeoutMs} ms (received: ${this.received.length})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves once `count` messages are being held. */
  async waitForHeld(count = 1, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.heldCount < count) {
      if (Date.now() > deadline) throw new Error(`fewer than ${count} held messages within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async close(): Promise<void> {
    this.release();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(raw: Buffer, to: string[], secure: boolean, callback: (error?: Error | null) => void): void {
    if (this.failures > 0) {
      this.failures--;
      callback(Object.assign(new Error('Try again later'), { responseCode: 451 }));
      return;
    }
    const deliver = () => {
      simpleParser(raw).then(
        (parsed) => {
          this.received.push({
            to,
            from: parsed.from?.text ?? '',
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : '',
            secure,
            parsed,
            receivedAt: Date.now(),
          });
          callback();
          const waiters = this.waiters;
          this.waiters = [];
          for (const wake of waiters) wake();
        },
        (error: Error) => callback(error),
      );
    };
    if (this.holding) {
      this.heldCount++;
      this.held.push(deliver);
    } else if (this.delayMs > 0) {
      setTimeout(deliver, this.delayMs);
    } else {
      deliver();
    }
  }
}

/** The 6-digit code in a verification mail (its text body). */
export function codeIn(mail: ReceivedMail): string {
  const match = /^\s+(\d{6})\s*$/m.exec(mail.text);
  if (!match) throw new Error(`no code in mail: ${mail.text}`);
  return match[1];
}

/** The reset token in a password-reset mail (its text body). */
export function tokenIn(mail: ReceivedMail): string {
  const match = /^\s+([A-Za-z0-9_-]{43})\s*$/m.exec(mail.text);
  if (!match) throw new Error(`no token in mail: ${mail.text}`);
  return match[1];
}
