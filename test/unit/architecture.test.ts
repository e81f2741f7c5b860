import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The module boundaries docs/architecture.md sets, read from the import statements of src/.
 * A change that crosses one fails here, with the offending import named.
 */
const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every module specifier a file imports (static, type-only, re-exports and dynamic). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g)) out.push(m[1]!);
  for (const m of text.matchAll(/(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g)) out.push(m[1]!);
  for (const m of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!);
  return out;
}

/** src-relative path of a local import ("cache/entry.ts"), or the package name. */
function target(from: string, spec: string): string {
  if (!spec.startsWith('.')) return spec.startsWith('node:') ? spec : spec.split('/')[0]!.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
  return relative(SRC, resolve(dirname(from), spec)).replace(/\.js$/, '.ts');
}

const graph = new Map<string, string[]>();
for (const f of files(SRC)) graph.set(relative(SRC, f), importsOf(f).map((s) => target(f, s)));

function violations(rule: (from: string, to: string) => boolean): string[] {
  const out: string[] = [];
  for (const [from, tos] of graph) for (const to of tos) if (rule(from, to)) out.push(`${from} → ${to}`);
  return out;
}

const inFolder = (p: string, folder: string): boolean => p.startsWith(folder + '/');

describe('module boundaries (docs/architecture.md)', () => {
  it('rfc9111/ imports only types.ts and itself (and node:crypto for hashing)', () => {
    expect(violations((from, to) => inFolder(from, 'rfc9111') && !(to === 'types.ts' || inFolder(to, 'rfc9111') || to === 'node:crypto'))).toEqual([]);
  });

  it('cache/ imports neither http/ nor origin/', () => {
    expect(violations((from, to) => inFolder(from, 'cache') && (inFolder(to, 'http') || inFolder(to, 'origin')))).toEqual([]);
  });

  it('only metrics/ and cluster/ import prom-client', () => {
    expect(violations((from, to) => to === 'prom-client' && !(inFolder(from, 'metrics') || inFolder(from, 'cluster')))).toEqual([]);
  });

  it('nothing imports cli.ts', () => {
    expect(violations((_from, to) => to === 'cli.ts')).toEqual([]);
  });

  it('every local import names a file that exists', () => {
    expect(violations((_from, to) => to.endsWith('.ts') && !graph.has(to))).toEqual([]);
  });

  it('there is no import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (n: string): void => {
      state.set(n, 'open');
      stack.push(n);
      for (const to of graph.get(n) ?? []) {
        if (!graph.has(to)) continue;
        if (state.get(to) === 'open') cycles.push([...stack.slice(stack.indexOf(to)), to].join(' → '));
        else if (state.get(to) === undefined) visit(to);
      }
      stack.pop();
      state.set(n, 'done');
    };
    for (const n of graph.keys()) if (state.get(n) === undefined) visit(n);
    expect(cycles).toEqual([]);
  });
});
