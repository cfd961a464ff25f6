/**
 * Passkeys in examples/web through Chromium's virtual authenticator (DevTools protocol WebAuthn
 * domain: CTAP2, internal transport, resident keys, user verification): register one, sign out,
 * sign in with it with and without an email (a discoverable credential), delete it, and find it
 * refused afterwards though the authenticator still holds it. Writes the passkey screenshot to
 * docs/screenshots/.
 *
 * Runs only in the PostgreSQL + Redis CI pass: it drives a real browser, so it runs once rather
 * than twice.
 */
import path from 'node:path';
import type { Browser, CDPSession, Page } from 'playwright-core';
import { uniqueEmail } from '../kit';
import { describeInBrowser, openBrowser } from './browser';
import { openTogether, SCREENSHOTS, startExample, type ExampleSetup } from './app';

// Names the page functions below use in the browser (this file is type-checked without the DOM lib).
declare const document: any;

describeInBrowser('examples/web passkeys, with a virtual authenticator', () => {
  let browser: Browser;
  let example: ExampleSetup;

  beforeAll(async () => {
    await openTogether([openBrowser(), startExample()], (opened) => ([browser, example] = opened as [Browser, ExampleSetup]));
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await example?.close();
  });

  async function waitForView(page: Page, before: number): Promise<void> {
    await page.waitForFunction((views) => Number(document.body.dataset.views ?? 0) > views, before);
  }
  const views = async (page: Page) => Number((await page.getAttribute('body', 'data-views')) ?? 0);

  async function logOut(page: Page): Promise<void> {
    await page.click('#logout');
    await page.waitForSelector('#signed-out:not([hidden])');
  }

  async function passkeySignIn(page: Page, email: string | null): Promise<void> {
    await page.fill('#passkey-login-form [name=email]', email ?? '');
    await page.click('#passkey-login-form button[type=submit]');
  }

  const currentSession = async (email: string) =>
    example.warden.app.infra.database.prisma.session.findFirst({
      where: { user: { email }, revokedAt: null },
      orderBy: { createdAt: 'desc' },
      select: { aal: true, amr: true },
    });

  it('registers a passkey, signs in with it with and without an email, and deletes it', async () => {
    const context = await browser.newContext({ viewport: { width: 820, height: 560 } });
    const page = await context.newPage();
    const cdp: CDPSession = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
    });
    await page.goto(example.appOrigin);
    await page.waitForSelector('body[data-ready="true"]');

    const email = uniqueEmail('passkey');
    await page.fill('#signup-form [name=name]', 'Grace Hopper');
    await page.fill('#signup-form [name=email]', email);
    await page.fill('#signup-form [name=password]', 'correct horse battery staple');
    await page.click('#signup-form button[type=submit]');
    await page.waitForSelector('#signed-in:not([hidden])');
    expect(await page.locator('#passkeys li').count()).toBe(0);

    // Register: the authenticator makes a discoverable credential, Warden stores it.
    await page.fill('#add-passkey-form [name=name]', 'This laptop');
    await page.click('#add-passkey-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'Passkey added.');
    expect(await page.locator('#passkeys li').count()).toBe(1);
    expect(await page.textContent('#passkeys li')).toContain('This laptop');
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0].isResidentCredential).toBe(true);
    const stored = await example.warden.app.infra.database.prisma.passkey.findMany({ where: { user: { email } } });
    expect(stored).toEqual([expect.objectContaining({ name: 'This laptop', backupEligible: false, backedUp: false })]);
    // The credential id Warden keeps is the authenticator's (base64 there, base64url here).
    expect(Buffer.from(credentials[0].credentialId, 'base64').toString('base64url')).toBe(stored[0].credentialId);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'passkeys.png') });

    // Sign in with it, naming the account: an AAL2 session, amr ["hwk"] (device-bound).
    await logOut(page);
    await passkeySignIn(page, email);
    await page.waitForSelector('#signed-in:not([hidden])');
    expect(await page.textContent('#status')).toBe(`Signed in as ${email}.`);
    expect(await page.textContent('#sessions tr:has-text("this one")')).toContain('AAL2 hwk');
    expect(await currentSession(email)).toEqual({ aal: 'aal2', amr: ['hwk'] });
    expect((await context.cookies(example.wardenUrl)).map((cookie) => cookie.name)).toContain('refresh_token');

    // …and without an email: the browser offers the discoverable credential it holds.
    await logOut(page);
    await passkeySignIn(page, null);
    await page.waitForSelector('#signed-in:not([hidden])');
    expect(await page.textContent('#status')).toBe(`Signed in as ${email}.`);
    expect(await currentSession(email)).toEqual({ aal: 'aal2', amr: ['hwk'] });
    const signCount = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials[0].signCount;
    expect(signCount).toBeGreaterThanOrEqual(2);

    // Delete it (the user still has a password, so it is not their last way in).
    const before = await views(page);
    await page.click('#passkeys button.delete');
    await waitForView(page, before);
    expect(await page.locator('#passkeys li').count()).toBe(0);
    expect(await example.warden.app.infra.database.prisma.passkey.count({ where: { user: { email } } })).toBe(0);

    // The authenticator still holds the credential, but Warden no longer accepts it.
    await logOut(page);
    await passkeySignIn(page, null);
    await page.waitForFunction(() => document.querySelector('#status')?.classList.contains('error'));
    expect(await page.textContent('#status')).toMatch(/^Sign in with a passkey failed \(INVALID_CREDENTIALS\)/);
    expect(await page.isHidden('#signed-in')).toBe(true);
    await context.close();
  });
});
