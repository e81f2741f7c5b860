import { createHash } from 'node:crypto';
import { VARIANT_SEPARATOR } from './key.js';

/**
 * How larder's store keys become Redis keys.
 *
 * A store key is a primary key (host + path + query) or primary + VARIANT_SEPARATOR +
 * variantId. Every Redis key derived from one primary carries the same hash tag, so the
 * vary index, its variants and their locks live in one Cluster slot: a purge can delete
 * them in one DEL and the unlock script may touch them, without CROSSSLOT errors.
 *
 *   index or plain entry   <prefix>{<tag>}:i
 *   variant                <prefix>{<tag>}:v:<variantId>
 *   lock                   <prefix>{<tag>}:lock:<variantId | i>
 */

/** Hash-tag length: 96 bits of SHA-1, so two primaries sharing a tag is not a practical concern. */
const TAG_LENGTH = 16;

export interface SplitKey {
  primary: string;
  /** Absent for the primary key itself. */
  variantId: string | undefined;
}

export function splitStoreKey(key: string): SplitKey {
  const at = key.indexOf(VARIANT_SEPARATOR);
  return at === -1
    ? { primary: key, variantId: undefined }
    : { primary: key.slice(0, at), variantId: key.slice(at + VARIANT_SEPARATOR.length) };
}

/**
 * The Cluster hash tag of a primary key. Hashed because a primary may contain `{` or `}`,
 * which would change which part of the key Redis hashes, and because it may be long.
 */
export function slotTag(primary: string): string {
  let tag = recentTags.get(primary);
  if (tag === undefined) {
    tag = createHash('sha1').update(primary, 'utf8').digest('base64url').slice(0, TAG_LENGTH);
    // A hot key is looked up on every request: remember the last few thousand tags.
    if (recentTags.size >= RECENT_TAGS) recentTags.clear();
    recentTags.set(primary, tag);
  }
  return tag;
}

const RECENT_TAGS = 4096;
const recentTags = new Map<string, string>();

/** Throws for a prefix that would break slot placement; call when configuring, never per request. */
export function checkPrefix(prefix: string): void {
  // Redis hashes the text between the first `{` and the next `}`; a brace in the prefix
  // would put every key of this larder into one slot (or split an entry from its index).
  if (prefix.includes('{') || prefix.includes('}')) {
    throw new Error(`Redis key prefix ${JSON.stringify(prefix)} must not contain '{' or '}'; choose another prefix`);
  }
}

export function redisKey(prefix: string, key: string): string {
  const { primary, variantId } = splitStoreKey(key);
  return variantId === undefined ? indexKey(prefix, primary) : variantRedisKey(prefix, primary, variantId);
}

/** The Redis key of a primary key: its vary index, or its entry when the response does not vary. */
export function indexKey(prefix: string, primary: string): string {
  return `${prefix}{${slotTag(primary)}}:i`;
}

export function variantRedisKey(prefix: string, primary: string, variantId: string): string {
  return `${prefix}{${slotTag(primary)}}:v:${variantId}`;
}

export function lockKey(prefix: string, key: string): string {
  const { primary, variantId } = splitStoreKey(key);
  return `${prefix}{${slotTag(primary)}}:lock:${variantId ?? 'i'}`;
}

/**
 * Pub/sub channel carrying invalidated primary keys (unsafe methods, hard purges of a URL
 * with its host) to every instance. Every other purge travels as rules on `purgeChannel`.
 */
export function invalidateChannel(prefix: string): string {
  return `${prefix}invalidate`;
}

/** Pub/sub channel announcing that a key was filled, so waiting instances can read it from Redis. */
export function filledChannel(prefix: string): string {
  return `${prefix}filled`;
}

/** The sorted set of purge rules (prefix, path, tag purges), scored by their end of life. */
export function purgeRulesKey(prefix: string): string {
  return `${prefix}purges`;
}

/** Pub/sub channel carrying purge rules to every instance. */
export function purgeChannel(prefix: string): string {
  return `${prefix}purge`;
}
