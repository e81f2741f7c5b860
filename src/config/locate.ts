/**
 * Key path → source offset, so that validation errors, which are found on plain JS values,
 * point at the line the user has to edit.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type Node, type YAMLMap } from 'yaml';
import type { KeyPath } from './problems.js';

/**
 * The offset of the node at `path` (of its key with at: 'key'). When the path leaves the
 * written document (a key filled in by a default, or brought by a merge key that cannot be
 * followed), the deepest node that exists is used: the mapping the key belongs in.
 */
export function locate(doc: Document, path: KeyPath, at?: 'key'): number | undefined {
  let node: unknown = doc.contents;
  let keyNode: unknown;
  let complete = true;
  for (const segment of path) {
    node = resolve(doc, node);
    keyNode = undefined;
    let next: unknown;
    if (isMap(node)) {
      const pair = findPair(doc, node, String(segment));
      if (pair) {
        keyNode = pair.key;
        next = pair.value ?? pair.key; // `ttl:` with nothing after it has no value node
      }
    } else if (isSeq(node) && typeof segment === 'number') {
      next = node.items[segment];
    }
    if (next === undefined || next === null) {
      complete = false;
      break;
    }
    node = next;
  }
  const target = complete && at === 'key' && keyNode !== undefined ? keyNode : node;
  return (target as Node | undefined)?.range?.[0];
}

function resolve(doc: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

/** A key of `map`, also looking through `<<` merge keys. */
function findPair(doc: Document, map: YAMLMap, key: string, depth = 0): { key: unknown; value: unknown } | undefined {
  const own = map.items.find((pair) => isScalar(pair.key) && String(pair.key.value) === key);
  if (own || depth > 8) return own;
  for (const pair of map.items) {
    if (!isScalar(pair.key) || pair.key.value !== '<<') continue;
    const sources = resolve(doc, pair.value);
    for (const source of isSeq(sources) ? sources.items : [sources]) {
      const merged = resolve(doc, source);
      const found = isMap(merged) ? findPair(doc, merged, key, depth + 1) : undefined;
      if (found) return found;
    }
  }
  return undefined;
}
