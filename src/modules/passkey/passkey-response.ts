/**
 * The browser's WebAuthn response JSON, as `PublicKeyCredential.toJSON()` and
 * @simplewebauthn/browser produce it, checked for shape before anything reads it. Anything that
 * is not even shaped like a response is BAD_USER_INPUT; a well-shaped response that does not
 * verify (its contents decoded, its challenge, origin, RP ID, flags or signature) is
 * INVALID_CREDENTIALS, decided by the service.
 */
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { ValidationError } from '../../errors/app-error';

/** A credential id is at most 1023 bytes (WebAuthn §5.1): 1364 base64url characters. */
const MAX_CREDENTIAL_ID_CHARS = 1364;
/** clientDataJSON is a small JSON document; browsers send a few hundred bytes. */
const MAX_CLIENT_DATA_CHARS = 8_192;
/** An attestation object with a certificate chain ("packed", "tpm") stays well below this. */
const MAX_ATTESTATION_CHARS = 65_536;
const MAX_AUTHENTICATOR_DATA_CHARS = 8_192;
const MAX_SIGNATURE_CHARS = 8_192;
/** A user handle is at most 64 bytes. */
const MAX_USER_HANDLE_CHARS = 86;

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** The transports WebAuthn defines; anything else a browser reports is dropped, not stored. */
export const KNOWN_TRANSPORTS = ['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb'] as const;

type Json = Record<string, unknown>;

function refuse(reason: string): never {
  throw new ValidationError({ response: reason });
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function base64url(value: unknown, field: string, max: number, allowEmpty = false): string {
  if (typeof value !== 'string' || value.length > max || (!allowEmpty && value.length === 0) || !BASE64URL.test(value)) {
    refuse(`${field} must be a base64url string of at most ${max} characters`);
  }
  return value;
}

function common(value: unknown): { json: Json; inner: Json } {
  if (!isObject(value)) refuse('must be the JSON of a PublicKeyCredential');
  base64url(value.id, 'id', MAX_CREDENTIAL_ID_CHARS);
  base64url(value.rawId, 'rawId', MAX_CREDENTIAL_ID_CHARS);
  if (value.type !== 'public-key') refuse('type must be "public-key"');
  if (!isObject(value.response)) refuse('response must be an object');
  if (value.clientExtensionResults !== undefined && !isObject(value.clientExtensionResults))
    refuse('clientExtensionResults must be an object');
  if (
    value.authenticatorAttachment !== undefined &&
    value.authenticatorAttachment !== null &&
    typeof value.authenticatorAttachment !== 'string'
  ) {
    refuse('authenticatorAttachment must be a string');
  }
  base64url(value.response.clientDataJSON, 'response.clientDataJSON', MAX_CLIENT_DATA_CHARS);
  return { json: value, inner: value.response };
}

/** @throws ValidationError unless `value` is shaped like a registration response. */
export function registrationResponse(value: unknown): RegistrationResponseJSON {
  const { json, inner } = common(value);
  base64url(inner.attestationObject, 'response.attestationObject', MAX_ATTESTATION_CHARS);
  if (
    inner.transports !== undefined &&
    (!Array.isArray(inner.transports) ||
      inner.transports.length > 16 ||
      inner.transports.some((t) => typeof t !== 'string' || t.length > 32))
  ) {
    refuse('response.transports must be a list of strings');
  }
  // The L3 convenience fields are not used; only their type is checked, as the library reads them.
  if (inner.authenticatorData !== undefined) base64url(inner.authenticatorData, 'response.authenticatorData', MAX_ATTESTATION_CHARS);
  if (inner.publicKey !== undefined) base64url(inner.publicKey, 'response.publicKey', MAX_ATTESTATION_CHARS);
  if (inner.publicKeyAlgorithm !== undefined && typeof inner.publicKeyAlgorithm !== 'number')
    refuse('response.publicKeyAlgorithm must be a number');
  return {
    ...json,
    clientExtensionResults: (json.clientExtensionResults as Json | undefined) ?? {},
  } as unknown as RegistrationResponseJSON;
}

/** @throws ValidationError unless `value` is shaped like an authentication (assertion) response. */
export function authenticationResponse(value: unknown): AuthenticationResponseJSON {
  const { json, inner } = common(value);
  base64url(inner.authenticatorData, 'response.authenticatorData', MAX_AUTHENTICATOR_DATA_CHARS);
  base64url(inner.signature, 'response.signature', MAX_SIGNATURE_CHARS);
  if (inner.userHandle !== undefined && inner.userHandle !== null)
    base64url(inner.userHandle, 'response.userHandle', MAX_USER_HANDLE_CHARS, true);
  return {
    ...json,
    clientExtensionResults: (json.clientExtensionResults as Json | undefined) ?? {},
  } as unknown as AuthenticationResponseJSON;
}

/** What clientDataJSON says, or null when it is not a JSON object with a string challenge. */
export function clientDataOf(encoded: string): { challenge: string; type: unknown; origin: unknown; crossOrigin: unknown } | null {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
    if (!isObject(parsed) || typeof parsed.challenge !== 'string' || parsed.challenge.length === 0 || parsed.challenge.length > 512)
      return null;
    return { challenge: parsed.challenge, type: parsed.type, origin: parsed.origin, crossOrigin: parsed.crossOrigin };
  } catch {
    return null;
  }
}
