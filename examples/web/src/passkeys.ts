/**
 * Passkeys with the browser's own WebAuthn JSON helpers: Warden's `start…` mutations return the
 * options as JSON, `PublicKeyCredential.parse…OptionsFromJSON` turns them into what
 * `navigator.credentials` takes, and the credential's `toJSON()` is what the `finish…` mutations
 * take. (`@simplewebauthn/browser` does the same for browsers without those helpers.)
 */
import type { ApolloClient } from '@apollo/client';
import {
  DeletePasskeyDocument,
  FinishPasskeyLoginDocument,
  FinishPasskeyRegistrationDocument,
  MyPasskeysDocument,
  StartPasskeyLoginDocument,
  StartPasskeyRegistrationDocument,
  type PasskeyFieldsFragment,
} from '@warden/client';

/** The browser has WebAuthn and its JSON helpers (Chrome/Edge 129+, Firefox 119+, Safari 18.4+). */
export function passkeysSupported(): boolean {
  return typeof PublicKeyCredential !== 'undefined' && typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function';
}

export async function loadPasskeys(client: ApolloClient): Promise<readonly PasskeyFieldsFragment[]> {
  const { data } = await client.query({ query: MyPasskeysDocument });
  return data?.myPasskeys ?? [];
}

/** Registers a passkey on this device for the signed-in user. */
export async function addPasskey(client: ApolloClient, name: string | null): Promise<PasskeyFieldsFragment> {
  const started = await client.mutate({ mutation: StartPasskeyRegistrationDocument });
  const optionsJSON = started.data!.startPasskeyRegistration as unknown as PublicKeyCredentialCreationOptionsJSON;
  const credential = (await navigator.credentials.create({
    publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(optionsJSON),
  })) as PublicKeyCredential | null;
  if (!credential) throw new Error('no passkey was created');
  const finished = await client.mutate({
    mutation: FinishPasskeyRegistrationDocument,
    variables: { response: credential.toJSON() as unknown as Record<string, unknown>, name },
  });
  return finished.data!.finishPasskeyRegistration;
}

/**
 * Signs in with a passkey: with an email, among that account's passkeys; without one, the
 * browser offers the passkeys it holds for this site (discoverable credentials). The link keeps
 * the tokens `finishPasskeyLogin` returns, as it does `login`'s.
 */
export async function signInWithPasskey(client: ApolloClient, email: string | null): Promise<void> {
  const started = await client.mutate({ mutation: StartPasskeyLoginDocument, variables: { email } });
  const optionsJSON = started.data!.startPasskeyLogin as unknown as PublicKeyCredentialRequestOptionsJSON;
  const credential = (await navigator.credentials.get({
    publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(optionsJSON),
  })) as PublicKeyCredential | null;
  if (!credential) throw new Error('no passkey was chosen');
  await client.mutate({
    mutation: FinishPasskeyLoginDocument,
    variables: { response: credential.toJSON() as unknown as Record<string, unknown> },
  });
}

export async function deletePasskey(client: ApolloClient, id: string): Promise<void> {
  await client.mutate({ mutation: DeletePasskeyDocument, variables: { id } });
}
