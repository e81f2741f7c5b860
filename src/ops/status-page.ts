import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { PageAsset } from '../http/admin.js';

/**
 * The status page's files (HTML, CSS, plain JavaScript), served as they are in the package:
 * no build step, nothing fetched from elsewhere. They live in src/ops/status-page/, which the
 * package ships; from dist/ops/ the same folder is found under ../../src/ops/.
 */
const FILES: ReadonlyArray<[path: string, file: string, contentType: string]> = [
  ['/', 'index.html', 'text/html; charset=utf-8'],
  ['/page.css', 'page.css', 'text/css; charset=utf-8'],
  ['/page.js', 'page.js', 'text/javascript; charset=utf-8'],
];

let cached: ReadonlyMap<string, PageAsset> | undefined;

function folder(): string {
  for (const rel of ['./status-page/', '../../src/ops/status-page/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(dir + 'index.html')) return dir;
  }
  throw new Error('the status page files (src/ops/status-page/) are missing from the package');
}

/** The page's files by URL path, read once. */
export function statusPageAssets(): ReadonlyMap<string, PageAsset> {
  if (cached !== undefined) return cached;
  const dir = folder();
  cached = new Map(FILES.map(([path, file, contentType]) => [path, { contentType, body: readFileSync(dir + file) }]));
  return cached;
}
