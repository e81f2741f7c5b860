/**
 * One configuration problem, before it is given a file position. Every stage (YAML syntax,
 * interpolation, schema, semantic checks) reports into one list so that the user sees
 * every problem at once instead of fixing them one run at a time.
 */
import { quote } from './units.js';

/** Keys and list indexes from the document root, e.g. ['routes', 0, 'ttl']. */
export type KeyPath = readonly (string | number)[];

export interface Problem {
  /** Where in the document; null when no key applies (a YAML syntax error). */
  path: KeyPath | null;
  /** What is wrong and what to write instead. */
  message: string;
  /** Point at the key rather than its value: for keys that should not be there. */
  at?: 'key';
  /** A source offset known up front (YAML errors, interpolation); otherwise found from `path`. */
  offset?: number;
}

/** ['routes', 0, 'match', 'path'] → "routes[0].match.path"; the root → "(top level)". */
export function formatKeyPath(path: KeyPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out === '' ? '(top level)' : out;
}

/** How an error message names a value that was found. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return quote(value);
}

/** Collects problems, keeping only the first one reported for a place (it is the most specific). */
export class ProblemList {
  readonly items: Problem[] = [];
  private readonly seen = new Set<string>();

  add(problem: Problem): void {
    if (problem.path !== null && !this.claim(problem.path, problem.at)) return;
    this.items.push(problem);
  }

  /** Marks a place as reported; false when it already was. */
  private claim(path: KeyPath, at?: 'key'): boolean {
    const id = `${at ?? ''}:${formatKeyPath(path)}`;
    if (this.seen.has(id)) return false;
    this.seen.add(id);
    return true;
  }

  /** Whether a value problem was reported at `path` or at a place that holds it. */
  covers(path: KeyPath): boolean {
    for (let n = 0; n <= path.length; n++) {
      if (this.seen.has(`:${formatKeyPath(path.slice(0, n))}`)) return true;
    }
    return false;
  }

  /** Whether a value problem was reported at `path` or at a place it holds. */
  within(path: KeyPath): boolean {
    const id = `:${formatKeyPath(path)}`;
    for (const seen of this.seen) {
      if (seen === id || seen.startsWith(`${id}.`) || seen.startsWith(`${id}[`)) return true;
    }
    return false;
  }

  get length(): number {
    return this.items.length;
  }
}
