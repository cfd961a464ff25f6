/**
 * Pages on origins Warden does not list in CORS_ORIGINS, in the browser of a user signed in to
 * examples/web (cookie transport): one same-site (`localhost` on another port — cookies ignore
 * ports, so SameSite=Strict does not stop the `refresh_token` cookie, and only the CSRF preflight
 * rule and CORS do) and one cross-site (`127.0.0.1`). Neither can run a mutation with the user's
 * cookie (form POSTs in every encoding, `fetch` with credentials, `text/plain`, a beacon), read a
 * response, or spend the refresh token: the session row and the refresh counters stay as they
 * were, and the user's next refresh is an ordinary rotation.
 *
 * Runs only in the PostgreSQL + Redis CI pass: it drives a real browser, so it runs once rather
 * than twice.
 */
import type { Browser, BrowserContext, Page, Request, Response } from 'playwright-core';
import { scrapeMetrics, uniqueEmail } from '../kit';
import { describeInBrowser, openBrowser } from './browser';
import { openTogether, serveSite, startExample, type ExampleSetup, type StaticSite } from './app';

// Names the page functions below use in the browser (this file is type-checked without the DOM lib).
declare const document: any;
declare const navigator: any;
declare const Blob: any;

const REFRESH = 'mutation { refreshToken { accessToken refreshToken } }';
const LOGOUT_ALL = 'mutation { logout(scope: GLOBAL) }';

describeInBrowser('pages on other origins, in the signed-in user’s browser', () => {
  let browser: Browser;
  let example: ExampleSetup;
  let elsewhere: StaticSite;

  beforeAll(async () => {
    await openTogether(
      [
        openBrowser(),
        startExample(),
        serveSite((pathname) =>
          pathname === '/' ? { type: 'text/html; charset=utf-8', body: '<!doctype html><title>elsewhere</title><body></body>' } : null,
        ),
      ],
      (opened) => ([browser, example, elsewhere] = opened as [Browser, ExampleSetup, StaticSite]),
    );
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await Promise.all([example?.close(), elsewhere?.close()]);
  });

  /** warden_refresh_total by result (ok, grace, reused, expired, invalid). */
  async function refreshCounters(): Promise<Record<string, number>> {
    const counters: Record<string, number> = {};
    for (const sample of await scrapeMetrics(example.warden))
      if (sample.name === 'warden_refresh_total') counters[sample.labels.result] = sample.value;
    return counters;
  }

  const sessionsOf = (email: string) =>
    example.warden.app.infra.database.prisma.session.findMany({
      where: { user: { email } },
      select: { id: true, generation: true, revokedAt: true, lastUsedAt: true, expiresAt: true },
      orderBy: { createdAt: 'asc' },
    });

  async function signedInUser(context: BrowserContext): Promise<{ app: Page; email: string }> {
    const app = await context.newPage();
    await app.goto(example.appOrigin);
    await app.waitForSelector('body[data-ready="true"]');
    const email = uniqueEmail('csrf');
    await app.fill('#signup-form [name=name]', 'Victim');
    await app.fill('#signup-form [name=email]', email);
    await app.fill('#signup-form [name=password]', 'correct horse battery staple');
    await app.click('#signup-form button[type=submit]');
    await app.waitForSelector('#signed-in:not([hidden])');
    return { app, email };
  }

  /** Every request the attacking page makes to Warden, with what it carried and what came back. */
  function watchWarden(page: Page) {
    const seen: Array<Promise<{ kind: string; method: string; contentType: string; cookie: string; status: number | null; body: string }>> =
      [];
    page.on('request', (request: Request) => {
      if (!request.url().startsWith(example.wardenUrl)) return;
      seen.push(
        (async () => {
          const headers = await request.allHeaders();
          const response: Response | null = await request.response().catch(() => null);
          return {
            kind: request.resourceType(),
            method: request.method(),
            contentType: headers['content-type'] ?? '',
            cookie: headers.cookie ?? '',
            status: response?.status() ?? null,
            body: (await response?.text().catch(() => '')) ?? '',
          };
        })(),
      );
    });
    return { count: () => seen.length, all: () => Promise.all(seen) };
  }

  describe.each([
    ['same-site: localhost on another port', 'localhost', true],
    ['cross-site: 127.0.0.1', '127.0.0.1', false],
  ])('%s', (_label, host, cookieTravels) => {
    it('cannot run a mutation with the cookie, read a response, or spend the refresh token', async () => {
      const context = await browser.newContext();
      const { app, email } = await signedInUser(context);
      const [before] = await sessionsOf(email);
      const countersBefore = await refreshCounters();

      const attacker = await context.newPage();
      const watched = watchWarden(attacker);
      await attacker.goto(`http://${host}:${elsewhere.port}/`);
      expect(await attacker.evaluate(() => document.cookie)).toBe('');

      // Forms post without any script access to the answer: urlencoded, multipart, and text/plain
      // shaped as JSON; each into a frame, and awaited until the frame has loaded the answer.
      for (const [enctype, name, value] of [
        ['application/x-www-form-urlencoded', 'query', REFRESH],
        ['multipart/form-data', 'query', LOGOUT_ALL],
        ['text/plain', `{"query":"${REFRESH}","x":"`, '"}'],
        ['text/plain', `{"query":"${LOGOUT_ALL}","x":"`, '"}'],
      ]) {
        await attacker.evaluate(
          ({ action, enctype, name, value }) =>
            new Promise<void>((resolve) => {
              const frame = document.createElement('iframe');
              frame.name = `sink-${Math.random()}`;
              frame.onload = () => resolve();
              document.body.append(frame);
              const form = document.createElement('form');
              Object.assign(form, { method: 'POST', action, enctype, target: frame.name });
              const input = document.createElement('input');
              Object.assign(input, { type: 'hidden', name, value });
              form.append(input);
              document.body.append(form);
              form.submit();
            }),
          { action: example.wardenUrl, enctype, name, value },
        );
      }

      // Scripts: each fetch either fails (preflight refused, or the answer unreadable) or, in
      // no-cors mode, yields an opaque response with nothing in it.
      const outcomes = await attacker.evaluate(
        async ({ url, refresh, logout }) => {
          const attempt = async (init: Record<string, unknown>) => {
            try {
              const response = await fetch(url, { method: 'POST', credentials: 'include', ...init });
              return { type: response.type, status: response.status, text: await response.text() };
            } catch (error) {
              return { failed: String(error) };
            }
          };
          const json = (query: string) => JSON.stringify({ query });
          const results = {
            json: await attempt({ headers: { 'content-type': 'application/json' }, body: json(refresh) }),
            jsonWithPreflightHeader: await attempt({
              headers: { 'content-type': 'application/json', 'apollo-require-preflight': 'true' },
              body: json(logout),
            }),
            textPlain: await attempt({ headers: { 'content-type': 'text/plain' }, body: json(refresh) }),
            textPlainNoCors: await attempt({ mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: json(logout) }),
            urlencodedNoCors: await attempt({ mode: 'no-cors', body: new URLSearchParams({ query: refresh }) }),
            beacon: navigator.sendBeacon(url, new Blob([json(refresh)], { type: 'text/plain' })),
          };
          return results;
        },
        { url: example.wardenUrl, refresh: REFRESH, logout: LOGOUT_ALL },
      );
      expect(outcomes.json).toEqual({ failed: expect.stringContaining('Failed to fetch') });
      expect(outcomes.jsonWithPreflightHeader).toEqual({ failed: expect.stringContaining('Failed to fetch') });
      expect(outcomes.textPlain).toEqual({ failed: expect.stringContaining('Failed to fetch') });
      expect(outcomes.textPlainNoCors).toEqual({ type: 'opaque', status: 0, text: '' });
      expect(outcomes.urlencodedNoCors).toEqual({ type: 'opaque', status: 0, text: '' });

      // Wait for the beacon to be answered too, then look at what reached Warden: 4 forms, 5
      // fetches and the beacon. Nothing was answered with data or a token. The two JSON fetches
      // were never sent: their preflight was refused (no CORS headers for this origin).
      for (let i = 0; i < 100 && watched.count() < 10; i++) await attacker.waitForTimeout(20);
      const requests = await watched.all();
      expect(requests).toHaveLength(10);
      for (const request of requests) {
        expect(request.method).toBe('POST');
        if (request.contentType === 'application/json') expect(request.status).toBeNull();
        else if (request.status !== null) expect(request.status).toBeGreaterThanOrEqual(400);
        expect(request.body).not.toContain('"data"');
        expect(request.body).not.toContain('accessToken');
      }
      const forms = requests.filter((request) => request.kind === 'document');
      expect(forms.map((form) => form.status).sort()).toEqual([400, 400, 415, 415]);
      // Same-site the cookie does go along (only CSRF prevention and CORS stand in the way);
      // cross-site SameSite=Strict keeps it back.
      for (const form of forms) expect(form.cookie.includes('refresh_token=')).toBe(cookieTravels);

      // At the server: nothing changed, no refresh of any kind was attempted.
      expect(await sessionsOf(email)).toEqual([before]);
      expect(await refreshCounters()).toEqual(countersBefore);

      // The user's next refresh (a reload restores the session from the cookie) is an ordinary
      // rotation of the token the attacks could not spend: not a replay, not a reuse.
      await app.reload();
      await app.waitForSelector('#signed-in:not([hidden])');
      const after = await refreshCounters();
      expect(after).toEqual({ ...countersBefore, ok: (countersBefore.ok ?? 0) + 1 });
      const [rotated] = await sessionsOf(email);
      expect(rotated).toMatchObject({ id: before.id, generation: before.generation + 1, revokedAt: null });
      await context.close();
    });
  });
});
