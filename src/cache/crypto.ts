import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** One AES-256 key and the id stored with every entry it encrypts. */
export interface EntryKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * AES-256-GCM for entries at rest. The first key encrypts; every key decrypts the entries that
 * name its id, so keys can be rotated: put the new key first, keep the old one listed until
 * the entries written under it have expired (cache.maxTtl at most), then remove it.
 *
 * Sealed form: key id length (1 byte), key id, IV (12), tag (16), ciphertext. The caller's
 * additional data (the frame header and the store key) is authenticated too, so an entry moved
 * to another key fails like a tampered one.
 */
export class EntryCipher {
  private readonly byId = new Map<string, Buffer>();
  private readonly current: EntryKey;
  private readonly currentId: Buffer;

  constructor(
    keys: readonly EntryKey[],
    /** Called for each entry that failed authentication (or names no known key). */
    private readonly onFailure: () => void = () => undefined,
  ) {
    if (keys.length === 0) throw new Error('encryption needs at least one key');
    for (const k of keys) {
      if (k.key.length !== 32) throw new Error(`encryption key ${k.id} must be 32 bytes`);
      const id = Buffer.from(k.id, 'utf8');
      if (id.length === 0 || id.length > 255) throw new Error(`encryption key id ${JSON.stringify(k.id)} must be 1 to 255 bytes`);
      if (!this.byId.has(k.id)) this.byId.set(k.id, k.key);
    }
    this.current = keys[0]!;
    this.currentId = Buffer.from(this.current.id, 'utf8');
  }

  /** The sealed form of `parts` (concatenated), authenticated with `aad` as well. */
  seal(parts: readonly Buffer[], aad: (idPrefix: Buffer) => Buffer): Buffer {
    const iv = randomBytes(IV_BYTES);
    const head = Buffer.allocUnsafe(1 + this.currentId.length);
    head[0] = this.currentId.length;
    this.currentId.copy(head, 1);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(aad(head));
    const body = parts.map((p) => cipher.update(p));
    body.push(cipher.final());
    return Buffer.concat([head, iv, cipher.getAuthTag(), ...body]);
  }

  /** The plaintext of a sealed value, or undefined (counted) when it does not authenticate. */
  open(sealed: Buffer, aad: (idPrefix: Buffer) => Buffer): Buffer | undefined {
    try {
      if (sealed.length < 1) return this.fail();
      const idLength = sealed[0]!;
      const start = 1 + idLength;
      if (idLength === 0 || sealed.length < start + IV_BYTES + TAG_BYTES) return this.fail();
      const key = this.byId.get(sealed.toString('utf8', 1, start));
      if (key === undefined) return this.fail();
      const iv = sealed.subarray(start, start + IV_BYTES);
      const tag = sealed.subarray(start + IV_BYTES, start + IV_BYTES + TAG_BYTES);
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAuthTag(tag);
      decipher.setAAD(aad(sealed.subarray(0, start)));
      const plain = decipher.update(sealed.subarray(start + IV_BYTES + TAG_BYTES));
      const last = decipher.final();
      return last.length === 0 ? plain : Buffer.concat([plain, last]);
    } catch {
      return this.fail();
    }
  }

  private fail(): undefined {
    try {
      this.onFailure();
    } catch {
      // Counting must never turn a miss into an error.
    }
    return undefined;
  }
}

/**
 * A key as written in the config: 64 hex digits or 44 base64 characters for 32 bytes.
 * Undefined for anything else (the message must never echo the value: it is a secret).
 */
export function parseEntryKey(text: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) {
    const b = Buffer.from(text, 'base64');
    return b.length === 32 ? b : undefined;
  }
  return undefined;
}
