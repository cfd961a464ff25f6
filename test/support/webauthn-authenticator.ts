/**
 * A software WebAuthn authenticator and client for tests: node:crypto P-256 keys, real CBOR
 * (`fmt: "none"` attestation objects, COSE keys), real authenticator data (flags UP/UV/BE/BS/AT,
 * a signature counter) and clientDataJSON, and ES256 assertion signatures. Its responses are the
 * JSON a browser's `PublicKeyCredential.toJSON()` gives, so they go to Warden's finish… mutations
 * as they are. Every part a test may want to get wrong (origin, RP ID, flags, counter, challenge,
 * signature, user handle) can be overridden per call.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

const b64url = (bytes: Uint8Array | Buffer) => Buffer.from(bytes).toString('base64url');

export interface CredentialOptions {
  /** Backup eligible (a synced passkey): sets BE, and BS unless `backedUp` is false. Default false (device-bound). */
  backupEligible?: boolean;
  backedUp?: boolean;
  /** Starting signature counter; 0 means the authenticator keeps none (it then always reports 0). Default 0. */
  counter?: number;
}

export interface Credential {
  id: string;
  privateKey: KeyObject;
  rpId: string;
  /** The user handle the RP gave at registration (base64url). */
  userHandle: string;
  backupEligible: boolean;
  backedUp: boolean;
  /** The counter the next assertion will report (incremented first when counting). */
  counter: number;
  counting: boolean;
}

/** Per-call overrides of what the client and authenticator put in a response. */
export interface CeremonyOverrides {
  origin?: string;
  /** Registration: the credential id to create (default: 32 random bytes), e.g. one already registered. */
  credentialId?: string;
  /** The RP ID whose hash goes into authenticator data (default: the options' rpId / rp.id). */
  rpId?: string;
  challenge?: string;
  type?: string;
  crossOrigin?: boolean;
  /** Replace the flags byte entirely. */
  flags?: number;
  /** Clear user verification (UV). */
  noUserVerification?: boolean;
  /** Report this counter instead of the next one. */
  counter?: number;
  /** Report this backup-eligible flag instead of the credential's. */
  backupEligible?: boolean;
  /** userHandle in an assertion; null leaves it out. */
  userHandle?: string | null;
  /** Flip a bit of the signature. */
  tamperSignature?: boolean;
}

export interface RegistrationResponseJSON {
  id: string;
  rawId: string;
  type: 'public-key';
  response: { clientDataJSON: string; attestationObject: string; transports: string[] };
  clientExtensionResults: Record<string, unknown>;
  authenticatorAttachment: 'platform';
}

export interface AuthenticationResponseJSON {
  id: string;
  rawId: string;
  type: 'public-key';
  response: { clientDataJSON: string; authenticatorData: string; signature: string; userHandle?: string };
  clientExtensionResults: Record<string, unknown>;
  authenticatorAttachment: 'platform';
}

function clientData(type: string, challenge: string, origin: string, crossOrigin: boolean): Buffer {
  return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin }), 'utf8');
}

function uint32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0);
  return out;
}

/** The COSE_Key (RFC 9053) of a P-256 public key: kty EC2, alg ES256, crv P-256, x, y. */
function coseKey(privateKey: KeyObject): Uint8Array {
  const jwk = privateKey.export({ format: 'jwk' });
  const map = new Map<number, number | Uint8Array>([
    [1, 2],
    [3, -7],
    [-1, 1],
    [-2, new Uint8Array(Buffer.from(jwk.x!, 'base64url'))],
    [-3, new Uint8Array(Buffer.from(jwk.y!, 'base64url'))],
  ]);
  return isoCBOR.encode(map);
}

export class SoftwareAuthenticator {
  /** Credentials this authenticator holds, discoverable ones by RP ID. */
  readonly credentials: Credential[] = [];

  constructor(readonly origin: string = 'http://localhost:4000') {}

  /**
   * navigator.credentials.create with `options` (PublicKeyCredentialCreationOptionsJSON as
   * startPasskeyRegistration returns it). Returns the response JSON and the new credential.
   */
  register(
    options: Record<string, any>,
    credentialOptions: CredentialOptions = {},
    overrides: CeremonyOverrides = {},
  ): { response: RegistrationResponseJSON; credential: Credential } {
    const rpId: string = overrides.rpId ?? options.rp?.id;
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const credentialId = overrides.credentialId ? Buffer.from(overrides.credentialId, 'base64url') : randomBytes(32);
    const backupEligible = overrides.backupEligible ?? credentialOptions.backupEligible ?? false;
    const backedUp = backupEligible && credentialOptions.backedUp !== false;
    const counter = credentialOptions.counter ?? 0;
    let flags = FLAG_UP | FLAG_UV | FLAG_AT | (backupEligible ? FLAG_BE : 0) | (backedUp ? FLAG_BS : 0);
    if (overrides.noUserVerification) flags &= ~FLAG_UV;
    if (overrides.flags !== undefined) flags = overrides.flags;
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(credentialId.length);
    const authData = Buffer.concat([
      createHash('sha256').update(rpId).digest(),
      Buffer.from([flags]),
      uint32(overrides.counter ?? counter),
      Buffer.alloc(16), // AAGUID: all zeros, as "none" attestation reports it
      idLength,
      credentialId,
      Buffer.from(coseKey(privateKey)),
    ]);
    const attestationObject = isoCBOR.encode(
      new Map<string, string | Map<string, string> | Uint8Array>([
        ['fmt', 'none'],
        ['attStmt', new Map<string, string>()],
        ['authData', new Uint8Array(authData)],
      ]),
    );
    const data = clientData(
      overrides.type ?? 'webauthn.create',
      overrides.challenge ?? options.challenge,
      overrides.origin ?? this.origin,
      overrides.crossOrigin ?? false,
    );
    const credential: Credential = {
      id: b64url(credentialId),
      privateKey,
      rpId: options.rp?.id,
      userHandle: options.user?.id,
      backupEligible,
      backedUp,
      counter,
      counting: counter > 0,
    };
    this.credentials.push(credential);
    return {
      credential,
      response: {
        id: credential.id,
        rawId: credential.id,
        type: 'public-key',
        response: { clientDataJSON: b64url(data), attestationObject: b64url(attestationObject), transports: ['internal'] },
        clientExtensionResults: {},
        authenticatorAttachment: 'platform',
      },
    };
  }

  /**
   * navigator.credentials.get with `options` (PublicKeyCredentialRequestOptionsJSON). Uses
   * `credential`, else the first held credential that `allowCredentials` lists, else (no list:
   * discoverable) the first for the RP ID.
   */
  assert(options: Record<string, any>, credential?: Credential, overrides: CeremonyOverrides = {}): AuthenticationResponseJSON {
    const allowed: string[] | undefined = options.allowCredentials?.map((c: { id: string }) => c.id);
    const chosen =
      credential ?? this.credentials.find((c) => c.rpId === options.rpId && (!allowed || allowed.length === 0 || allowed.includes(c.id)));
    if (!chosen) throw new Error('the authenticator holds no credential these options allow');
    if (chosen.counting) chosen.counter += 1;
    const rpId = overrides.rpId ?? options.rpId ?? chosen.rpId;
    const backupEligible = overrides.backupEligible ?? chosen.backupEligible;
    let flags = FLAG_UP | FLAG_UV | (backupEligible ? FLAG_BE : 0) | (backupEligible && chosen.backedUp ? FLAG_BS : 0);
    if (overrides.noUserVerification) flags &= ~FLAG_UV;
    if (overrides.flags !== undefined) flags = overrides.flags;
    const authenticatorData = Buffer.concat([
      createHash('sha256').update(rpId).digest(),
      Buffer.from([flags]),
      uint32(overrides.counter ?? chosen.counter),
    ]);
    const data = clientData(
      overrides.type ?? 'webauthn.get',
      overrides.challenge ?? options.challenge,
      overrides.origin ?? this.origin,
      overrides.crossOrigin ?? false,
    );
    const signed = Buffer.concat([authenticatorData, createHash('sha256').update(data).digest()]);
    const signature = sign('sha256', signed, chosen.privateKey);
    if (overrides.tamperSignature) signature[signature.length - 1] ^= 0x01;
    const userHandle = overrides.userHandle === undefined ? chosen.userHandle : overrides.userHandle;
    return {
      id: chosen.id,
      rawId: chosen.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64url(data),
        authenticatorData: b64url(authenticatorData),
        signature: b64url(signature),
        ...(userHandle === null ? {} : { userHandle }),
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }
}
