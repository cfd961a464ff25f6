/**
 * How mail leaves Warden: to an SMTP server named by SMTP_URL (options in its query string), or
 * without it to JSON files in DATA_DIR/outbox/ with a log line; never on the response's path;
 * retried after a failure; and waited for, within SHUTDOWN_TIMEOUT, when the server stops.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Metrics } from '../../src/infra/metrics';
import { codeIn } from '../support/smtp';
import { VERIFY, startWithSmtp } from './support';
import { signupUser, sleep, startTestServer, type TestServer } from '../kit';

function logSink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { stream, lines, text: () => lines.join('\n') };
}

async function mailCount(metrics: Metrics, result: 'sent' | 'retried' | 'failed'): Promise<number> {
  return (await metrics.mail.get()).values.find((value) => value.labels.result === result)?.value ?? 0;
}

describe('without SMTP_URL: the development outbox', () => {
  let server: TestServer;
  const logs = logSink();
  beforeAll(async () => {
    server = await startTestServer({ logDestination: logs.stream });
  });
  afterAll(() => server.close());

  it('writes each message as a JSON file in DATA_DIR/outbox/ and logs where', async () => {
    const user = await signupUser(server);
    await server.app.services.background.idle();
    const outbox = path.join(server.config.dataDir, 'outbox');
    const files = readdirSync(outbox).filter((name) => name.endsWith('.json'));
    const mails = files.map((name) => ({ file: path.join(outbox, name), ...JSON.parse(readFileSync(path.join(outbox, name), 'utf8')) }));
    const mail = mails.find((candidate) => candidate.to === user.email);
    expect(mail).toMatchObject({ from: 'Warden <no-reply@warden.local>', subject: 'Verify your email for Warden' });
    expect(statSync(mail.file).mode & 0o777).toBe(0o600);
    const code = /^\s+(\d{6})\s*$/m.exec(mail.text)![1];
    expect(mail.html).toContain(code);

    const line = logs.lines
      .map((text) => JSON.parse(text))
      .find((entry) => entry.msg === 'mail written to the development outbox' && entry.to === user.email);
    expect(line).toMatchObject({ file: mail.file, subject: 'Verify your email for Warden' });

    // The code in the file works like a mailed one.
    const verified = await server.gql(VERIFY, { code }, { token: user.accessToken });
    expect(verified.body.data!.verifyEmail.emailVerified).toBe(true);
  });
});

describe('with SMTP_URL', () => {
  it('delivers over plain SMTP and counts the message in warden_mail_total', async () => {
    const setup = await startWithSmtp();
    try {
      const user = await signupUser(setup.server);
      const mail = await setup.smtp.nextMail(user.email);
      expect(mail.secure).toBe(false);
      await setup.server.app.services.background.idle();
      expect(await mailCount(setup.server.app.infra.metrics, 'sent')).toBe(1);
      const metrics = await (await fetch(`${setup.server.url}/metrics`)).text();
      expect(metrics).toMatch(/^warden_mail_total\{result="sent"\} 1$/m);
    } finally {
      await setup.close();
    }
  });

  it('takes nodemailer options from the URL: STARTTLS with tls.rejectUnauthorized=false, or ignoreTLS=true', async () => {
    // smtp-server offers STARTTLS with a self-signed certificate.
    const upgraded = await startWithSmtp({ smtp: { starttls: true }, smtpQuery: 'tls.rejectUnauthorized=false' });
    const plain = await startWithSmtp({ smtp: { starttls: true }, smtpQuery: 'ignoreTLS=true' });
    try {
      const a = await signupUser(upgraded.server);
      expect((await upgraded.smtp.nextMail(a.email)).secure).toBe(true);
      const b = await signupUser(plain.server);
      expect((await plain.smtp.nextMail(b.email)).secure).toBe(false);
    } finally {
      await upgraded.close();
      await plain.close();
    }
  });

  it('answers signup while the SMTP server still holds the message', async () => {
    const setup = await startWithSmtp();
    try {
      setup.smtp.hold();
      const answered = await Promise.race([signupUser(setup.server), sleep(10_000).then(() => 'waited' as const)]);
      expect(answered).not.toBe('waited');
      await setup.smtp.waitForHeld(1);
      expect(setup.smtp.received).toHaveLength(0);
      setup.smtp.release();
      const user = answered as Awaited<ReturnType<typeof signupUser>>;
      const code = codeIn(await setup.smtp.nextMail(user.email));
      expect((await setup.server.gql(VERIFY, { code }, { token: user.accessToken })).body.data!.verifyEmail.emailVerified).toBe(true);
    } finally {
      await setup.close();
    }
  });

  it('retries a message the server refused for now, and logs the failure', async () => {
    const logs = logSink();
    const setup = await startWithSmtp({ logDestination: logs.stream });
    try {
      setup.smtp.failNext(2);
      const user = await signupUser(setup.server);
      const mail = await setup.smtp.nextMail(user.email);
      expect(codeIn(mail)).toMatch(/^\d{6}$/);
      await setup.server.app.services.background.idle();
      const metrics = setup.server.app.infra.metrics;
      expect(await mailCount(metrics, 'retried')).toBe(2);
      expect(await mailCount(metrics, 'sent')).toBe(1);
      expect(logs.text()).toContain('sending mail failed; will retry');
      // The log never carries the code.
      expect(logs.text()).not.toContain(codeIn(mail));
    } finally {
      await setup.close();
    }
  });
});

describe('shutdown', () => {
  it('waits for mail in flight before closing', async () => {
    const setup = await startWithSmtp();
    let closedAt = 0;
    try {
      setup.smtp.hold();
      const user = await signupUser(setup.server);
      await setup.smtp.waitForHeld(1);
      const closing = setup.server.close().then(() => {
        closedAt = Date.now();
      });
      await sleep(300);
      expect(closedAt).toBe(0); // still waiting for the held message
      setup.smtp.release();
      await closing;
      const [mail] = setup.smtp.mailsTo(user.email);
      expect(mail).toBeDefined();
      expect(mail.receivedAt).toBeLessThanOrEqual(closedAt);
    } finally {
      await setup.smtp.close();
    }
  });

  it('gives up on mail still in flight when SHUTDOWN_TIMEOUT runs out, and says so', async () => {
    const logs = logSink();
    const setup = await startWithSmtp({ env: { SHUTDOWN_TIMEOUT: '2s' }, logDestination: logs.stream });
    try {
      setup.smtp.hold();
      await signupUser(setup.server);
      await setup.smtp.waitForHeld(1);
      const started = Date.now();
      await setup.server.close();
      // Bounded: it returns within the timeout (plus slack for a loaded machine), not when SMTP answers.
      expect(Date.now() - started).toBeLessThan(6_000);
      expect(logs.text()).toContain('gave up waiting for background work');
    } finally {
      await setup.smtp.close();
    }
  });

  it('makes the remaining attempts at once instead of waiting between retries', async () => {
    const logs = logSink();
    const setup = await startWithSmtp({ logDestination: logs.stream });
    try {
      setup.smtp.failNext(100);
      await signupUser(setup.server);
      const metrics = setup.server.app.infra.metrics;
      while ((await mailCount(metrics, 'retried')) < 1) await sleep(20);
      // The next attempt would come 0.5 s later, then 2 s, then 8 s; at shutdown they come now.
      await setup.server.close();
      expect(await mailCount(metrics, 'failed')).toBe(1);
      expect(await mailCount(metrics, 'retried')).toBe(3);
      expect(logs.text()).toContain('mail not sent after retries');
      expect(logs.text()).not.toContain('gave up waiting for background work');
    } finally {
      await setup.smtp.close();
    }
  });
});
