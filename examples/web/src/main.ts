/**
 * A browser app on Warden, with no framework: Apollo Client with Warden's link, the refresh token
 * in Warden's HttpOnly `refresh_token` cookie (REFRESH_TOKEN_TRANSPORT=cookie), the access token
 * in memory only. Sign up, log in with a password or a passkey, see `me` and `mySessions`, revoke
 * a session, add and delete passkeys, log out.
 */
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import {
  createWardenAuth,
  errorCodeOf,
  isSignOutCode,
  LoginDocument,
  LogoutDocument,
  MeDocument,
  MySessionsDocument,
  RevokeSessionDocument,
  SignupDocument,
  type PasskeyFieldsFragment,
  type SessionFieldsFragment,
  type SignedOutEvent,
} from '@warden/client';
import { createWardenApolloLink } from '@warden/client/apollo';
import { addPasskey, deletePasskey, loadPasskeys, passkeysSupported, signInWithPasskey } from './passkeys';
import { $, button, cell, form, setStatus, show } from './dom';

declare const __WARDEN_URL__: string;
const WARDEN_URL = __WARDEN_URL__;

/** True while the app restores a session at start: no cookie then is not an error to show. */
let starting = true;

const auth = createWardenAuth({
  url: WARDEN_URL,
  // Warden is on another origin: the browser sends and stores its cookie only with 'include'.
  credentials: 'include',
  onSignedOut: (event) => signedOut(event),
});

export const client = new ApolloClient({
  link: ApolloLink.from([createWardenApolloLink({ auth }), new HttpLink({ uri: WARDEN_URL, credentials: 'include' })]),
  cache: new InMemoryCache(),
  defaultOptions: { query: { fetchPolicy: 'network-only' } },
});

function signedOut(event: SignedOutEvent): void {
  // The cache only: clearStore() would also fail the operations still in flight with its own error.
  void client.cache.reset();
  show('signed-out');
  setStatus(starting ? 'Signed out.' : `Signed out (${event.code}).`, !starting);
}

/** Shows an operation's failure, unless it ended the session (onSignedOut has said why). */
function failed(action: string, error: unknown): void {
  const code = errorCodeOf(error);
  if (code && isSignOutCode(code) && auth.accessToken === null) return;
  setStatus(`${action} failed${code ? ` (${code})` : ''}: ${error instanceof Error ? error.message : String(error)}`, true);
}

/** Loads what a signed-in user sees; the queries go out at once (one refresh serves them all). */
async function refreshView(): Promise<void> {
  const [me, sessions, passkeys] = await Promise.all([
    client.query({ query: MeDocument }),
    client.query({ query: MySessionsDocument }),
    loadPasskeys(client),
  ]);
  if (!me.data || !sessions.data) return;
  const user = me.data.me;
  const meList = $('me');
  meList.replaceChildren();
  for (const [term, value] of [
    ['Name', user.name],
    ['Email', `${user.email}${user.emailVerified ? '' : ' (not verified)'}`],
    ['Role', user.role],
  ] as const) {
    const dt = document.createElement('dt');
    dt.textContent = term;
    const dd = document.createElement('dd');
    dd.textContent = value;
    meList.append(dt, dd);
  }
  renderSessions(sessions.data.mySessions);
  renderPasskeys(passkeys);
  show('signed-in');
  setStatus(`Signed in as ${user.email}.`);
  // How many times the view was loaded: a test (or a curious reader) can wait for the next one.
  document.body.dataset.views = String(Number(document.body.dataset.views ?? 0) + 1);
}

function renderSessions(sessions: readonly SessionFieldsFragment[]): void {
  const rows = sessions.map((session) => {
    const row = document.createElement('tr');
    row.dataset.sessionId = session.id;
    row.append(
      cell(session.current ? 'this one' : ''),
      cell(new Date(session.createdAt).toLocaleString()),
      cell(new Date(session.lastUsedAt).toLocaleString()),
      cell(`${session.assurance} ${session.methods.join(', ')}`),
      cell(describeAgent(session.userAgent)),
    );
    const actions = document.createElement('td');
    if (!session.current) {
      actions.append(
        button(
          'Revoke',
          async () => {
            await client.mutate({ mutation: RevokeSessionDocument, variables: { id: session.id } });
            await refreshView();
          },
          'secondary revoke',
        ),
      );
    }
    row.append(actions);
    return row;
  });
  $('sessions').replaceChildren(...rows);
}

function renderPasskeys(passkeys: readonly PasskeyFieldsFragment[]): void {
  const items = passkeys.map((passkey) => {
    const item = document.createElement('li');
    item.dataset.passkeyId = passkey.id;
    const label = document.createElement('span');
    const used = passkey.lastUsedAt ? ` · last used ${new Date(passkey.lastUsedAt).toLocaleString()}` : '';
    label.textContent = `${passkey.name ?? 'Passkey'} · added ${new Date(passkey.createdAt).toLocaleDateString()}${used}${passkey.backedUp ? ' · synced' : ''}`;
    item.append(
      label,
      button(
        'Delete',
        async () => {
          await deletePasskey(client, passkey.id);
          await refreshView();
        },
        'secondary delete',
      ),
    );
    return item;
  });
  $('passkeys').replaceChildren(...items);
  $('add-passkey-form').hidden = !passkeysSupported();
}

function describeAgent(userAgent: string | null | undefined): string {
  if (!userAgent) return 'unknown';
  const browser = /(Firefox|Edg|Chrome|Chromium|Safari)\/[\d.]+/.exec(userAgent)?.[0];
  return browser ?? userAgent.slice(0, 40);
}

form(
  'signup-form',
  async (fields) => {
    await client.mutate({
      mutation: SignupDocument,
      variables: { input: { email: fields.get('email')!, password: fields.get('password')!, name: fields.get('name') ?? '' } },
    });
    await refreshView();
  },
  failed,
);

form(
  'login-form',
  async (fields) => {
    // The link keeps the returned access token; the refresh token arrives as the HttpOnly cookie.
    await client.mutate({
      mutation: LoginDocument,
      variables: { input: { email: fields.get('email')!, password: fields.get('password')! } },
    });
    await refreshView();
  },
  failed,
);

form(
  'passkey-login-form',
  async (fields) => {
    await signInWithPasskey(client, fields.get('email') || null);
    await refreshView();
  },
  failed,
);

form(
  'add-passkey-form',
  async (fields) => {
    await addPasskey(client, fields.get('name') || null);
    await refreshView();
    setStatus('Passkey added.');
  },
  failed,
);

$('reload').addEventListener('click', () => void refreshView().catch((error) => failed('Reload', error)));

async function logOut(): Promise<void> {
  try {
    // Ends this session and clears the cookie; then forget the access token here.
    await client.mutate({ mutation: LogoutDocument });
  } catch (error) {
    failed('Log out', error);
  }
  await auth.clear();
  await client.clearStore();
  show('signed-out');
  setStatus('Logged out.');
}

// A listener's promise goes nowhere: a failure clearing local state is reported like the others.
$('logout').addEventListener('click', () => void logOut().catch((error) => failed('Log out', error)));

// At start there is no access token (it lives in memory): the cookie, if any, restores the session.
auth
  .refresh()
  .then(() => refreshView())
  .catch(() => {
    // onSignedOut has shown the sign-in forms (no cookie, or an expired one).
  })
  .finally(() => {
    starting = false;
    document.body.dataset.ready = 'true';
  });
