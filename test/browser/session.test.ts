/**
 * examples/web in headless Chromium against a running Warden in cookie transport: the
 * `refresh_token` cookie travels and stays out of script reach, an expired access token is
 * refreshed once for concurrent queries, two tabs refreshing at once both stay signed in, logout
 * clears the cookie and a revoked session ends in onSignedOut. Writes the app's screenshots to
 * docs/screenshots/.
 *
 * Runs only in the PostgreSQL + Redis CI pass: it drives a real browser, so it runs once rather
 * than twice.
 */
import path from 'node:path';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { metric, uniqueEmail } from '../kit';
import { describeInBrowser, openBrowser } from './browser';
import { openTogether, SCREENSHOTS, startExample, type ExampleSetup } from './app';

// Names the page functions below use in the browser (this file is type-checked without the DOM lib).
declare const document: { cookie: string; body: { dataset: Record<string, string | undefined> } };
declare const localStorage: Record<string, string>;
declare const sessionStorage: Record<string, string>;

const PASSWORD = 'correct horse battery staple';
/** Past ACCESS_TOKEN_TTL (15m) and CLOCK_SKEW: every access token issued so far is expired. */
const EXPIRE_ACCESS_TOKENS = 16 * 60_000;

const rotations = (warden: ExampleSetup['warden'], result: 'ok' | 'grace' = 'ok') => metric(warden, 'warden_refresh_total', { result });

const isRefresh = (request: Request) =>
  request.method() === 'POST' && (request.postData() ?? '').includes('"operationName":"WardenRefreshToken"');

describeInBrowser('examples/web in Chromium, cookie transport', () => {
  let browser: Browser;
  let example: ExampleSetup;
  // Warden's clock runs with real time, plus what a test skips: an access token expires without
  // the test waiting 15 minutes.
  let skipped = 0;
  const passTime = (ms: number) => (skipped += ms);

  beforeAll(async () => {
    await openTogether(
      [openBrowser(), startExample({ clock: { now: () => Date.now() + skipped } })],
      (opened) => ([browser, example] = opened as [Browser, ExampleSetup]),
    );
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await example?.close();
  });

  async function openApp(context: BrowserContext): Promise<Page> {
    const page = await context.newPage();
    await page.goto(example.appOrigin);
    await page.waitForSelector('body[data-ready="true"]');
    return page;
  }

  /** Clicks Reload and waits until the view has loaded again. */
  async function reload(page: Page): Promise<void> {
    const views = Number(await page.getAttribute('body', 'data-views'));
    await page.click('#reload');
    await page.waitForFunction((before) => Number(document.body.dataset.views) > before, views);
  }

  async function signUp(page: Page, email: string): Promise<void> {
    await page.fill('#signup-form [name=name]', 'Ada Lovelace');
    await page.fill('#signup-form [name=email]', email);
    await page.fill('#signup-form [name=password]', PASSWORD);
    await page.click('#signup-form button[type=submit]');
    await page.waitForSelector('#signed-in:not([hidden])');
  }

  async function logIn(page: Page, email: string): Promise<void> {
    await page.fill('#login-form [name=email]', email);
    await page.fill('#login-form [name=password]', PASSWORD);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#signed-in:not([hidden])');
  }

  const sessionOf = (userEmail: string) =>
    example.warden.app.infra.database.prisma.session.findMany({
      where: { user: { email: userEmail } },
      select: { id: true, generation: true, revokedAt: true },
    });

  it('signs up and logs in; the refresh_token cookie is HttpOnly, SameSite=Strict, Path=/graphql and never in document.cookie', async () => {
    const context = await browser.newContext({ viewport: { width: 820, height: 560 } });
    const page = await openApp(context);
    expect(await page.textContent('#status')).toBe('Signed out.');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'signed-out.png') });

    const email = uniqueEmail('browser');
    await signUp(page, email);
    await page.click('#logout');
    await page.waitForSelector('#signed-out:not([hidden])');
    await logIn(page, email);
    expect(await page.textContent('#status')).toBe(`Signed in as ${email}.`);
    expect(await page.textContent('#me')).toContain('Ada Lovelace');

    const [cookie] = (await context.cookies(example.wardenUrl)).filter((c) => c.name === 'refresh_token');
    expect(cookie).toMatchObject({ domain: 'localhost', path: '/graphql', httpOnly: true, sameSite: 'Strict' });
    // Script on the app's page, and on a page under /graphql where a non-HttpOnly cookie would show.
    const probe = await context.newPage();
    await probe.goto(`${example.appOrigin}/graphql/probe`);
    for (const where of [page, probe]) {
      const visible = await where.evaluate(() => ({
        cookie: document.cookie,
        storage: JSON.stringify({ ...localStorage, ...sessionStorage }),
      }));
      expect(visible.cookie).not.toContain('refresh_token');
      expect(visible.cookie).not.toContain(cookie.value);
      expect(visible.storage).not.toContain(cookie.value);
    }
    // …while the browser does send it: a reload restores the session from the cookie alone.
    await page.reload();
    await page.waitForSelector('#signed-in:not([hidden])');
    await context.close();
  });

  it('refreshes an access token that expired during use once for concurrent queries, transparently', async () => {
    const context = await browser.newContext();
    const page = await openApp(context);
    const email = uniqueEmail('expiry');
    await signUp(page, email);
    const refreshes: Request[] = [];
    const expired: string[] = [];
    page.on('request', (request) => isRefresh(request) && refreshes.push(request));
    page.on('response', async (response) => {
      const body = await response.text().catch(() => '');
      if (body.includes('"ACCESS_TOKEN_EXPIRED"')) expired.push(response.url());
    });
    const before = await rotations(example.warden);
    const [session] = await sessionOf(email);

    passTime(EXPIRE_ACCESS_TOKENS);
    await reload(page); // me, mySessions and myPasskeys at once, each answered ACCESS_TOKEN_EXPIRED

    expect(expired).toHaveLength(3);
    expect(refreshes).toHaveLength(1);
    expect(await rotations(example.warden)).toBe(before + 1);
    expect((await sessionOf(email))[0].generation).toBe(session.generation + 1);
    expect(await page.textContent('#status')).toBe(`Signed in as ${email}.`);
    await context.close();
  });

  it('two tabs refreshing at the same moment both stay signed in, with one successor token', async () => {
    const context = await browser.newContext();
    const first = await openApp(context);
    const email = uniqueEmail('tabs');
    await signUp(first, email);
    const second = await openApp(context); // restores the same session from the cookie
    await second.waitForSelector('#signed-in:not([hidden])');
    const [session] = await sessionOf(email);
    const okBefore = await rotations(example.warden, 'ok');
    const graceBefore = await rotations(example.warden, 'grace');

    // Hold each tab's refresh until both are waiting, then let them go together: both carry
    // the same cookie. (Routing is used only here: with it, the browser's preflights are not
    // real, which would hide what the CSRF tests check.)
    const held: Array<() => Promise<void>> = [];
    let bothHeld!: () => void;
    const together = new Promise<void>((resolve) => (bothHeld = resolve));
    await context.route('**/graphql', async (route) => {
      if (!isRefresh(route.request())) return route.continue();
      held.push(() => route.continue());
      if (held.length === 2) bothHeld();
    });
    const cookies: string[] = [];
    context.on('response', async (response) => {
      if (isRefresh(response.request())) cookies.push((await response.headerValue('set-cookie')) ?? '');
    });

    passTime(EXPIRE_ACCESS_TOKENS);
    const reloaded = Promise.all([reload(first), reload(second)]);
    await together;
    await Promise.all(held.map((release) => release()));
    await reloaded;
    await context.unrouteAll();

    for (const tab of [first, second]) expect(await tab.textContent('#status')).toBe(`Signed in as ${email}.`);
    expect(await rotations(example.warden, 'ok')).toBe(okBefore + 1);
    expect(await rotations(example.warden, 'grace')).toBe(graceBefore + 1);
    for (let i = 0; cookies.length < 2 && i < 100; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(cookies[0]).toMatch(/^refresh_token=[^;]+/);
    expect(cookies[1].split(';')[0]).toBe(cookies[0].split(';')[0]);
    const after = await sessionOf(email);
    expect(after).toEqual([{ id: session.id, generation: session.generation + 1, revokedAt: null }]);

    // The successor keeps working: the next expiry refreshes normally in either tab.
    passTime(EXPIRE_ACCESS_TOKENS);
    await reload(second);
    expect(await rotations(example.warden, 'ok')).toBe(okBefore + 2);
    await context.close();
  });

  it('logout clears the cookie, and the other tab of that session ends in onSignedOut', async () => {
    const context = await browser.newContext();
    const first = await openApp(context);
    const email = uniqueEmail('logout');
    await signUp(first, email);
    const second = await openApp(context);
    await second.waitForSelector('#signed-in:not([hidden])');
    expect((await context.cookies(example.wardenUrl)).map((c) => c.name)).toContain('refresh_token');

    await first.click('#logout');
    await first.waitForSelector('#signed-out:not([hidden])');
    expect(await first.textContent('#status')).toBe('Logged out.');
    expect((await context.cookies(example.wardenUrl)).map((c) => c.name)).not.toContain('refresh_token');
    expect((await sessionOf(email))[0].revokedAt).not.toBeNull();

    // The other tab still holds an unexpired access token of the ended session.
    await second.click('#reload');
    await second.waitForSelector('#signed-out:not([hidden])');
    expect(await second.textContent('#status')).toBe('Signed out (SESSION_REVOKED).');
    await context.close();
  });

  it('a session revoked from another device ends in onSignedOut there', async () => {
    const laptop = await browser.newContext({ viewport: { width: 820, height: 560 } });
    const phone = await browser.newContext();
    const onLaptop = await openApp(laptop);
    const email = uniqueEmail('revoke');
    await signUp(onLaptop, email);
    const onPhone = await openApp(phone);
    await logIn(onPhone, email);
    await reload(onLaptop);
    expect(await onLaptop.locator('#sessions tr').count()).toBe(2);
    await onLaptop.screenshot({ path: path.join(SCREENSHOTS, 'signed-in.png') });

    const views = Number(await onLaptop.getAttribute('body', 'data-views'));
    await onLaptop.click('#sessions button.revoke');
    await onLaptop.waitForFunction((before) => Number(document.body.dataset.views) > before, views);
    expect(await onLaptop.locator('#sessions tr').count()).toBe(1);

    await onPhone.click('#reload');
    await onPhone.waitForSelector('#signed-out:not([hidden])');
    expect(await onPhone.textContent('#status')).toBe('Signed out (SESSION_REVOKED).');
    await Promise.all([laptop.close(), phone.close()]);
  });
});
