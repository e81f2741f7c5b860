import type { HeaderMap } from '../types.js';

function resolve(value: string | string[] | undefined, base: URL): URL | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (typeof raw !== 'string' || raw.trim() === '') return undefined;
  try {
    return new URL(raw.trim(), base);
  } catch {
    return undefined;
  }
}

/**
 * RFC 9111 §4.4: after a non-error (2xx or 3xx) response to an unsafe method, a cache must
 * invalidate the target URI, and may invalidate the URIs in Location and Content-Location,
 * but only when they share the target's origin (to stop denial-of-service on other sites).
 * The caller checks that the method is unsafe. Fragments are dropped: cache keys have none.
 */
export function invalidationTargets(requestUrl: URL, status: number, responseHeaders: HeaderMap): URL[] {
  if (!(status >= 200 && status < 400)) return [];
  let target: URL;
  try {
    target = new URL(requestUrl.href);
  } catch {
    return [];
  }
  target.hash = '';
  const out = [target];
  for (const name of ['location', 'content-location']) {
    const url = resolve(responseHeaders[name], target);
    // URL.origin is scheme + host + port with default ports normalised.
    if (url === undefined || url.origin === 'null' || url.origin !== target.origin) continue;
    url.hash = '';
    if (!out.some((u) => u.href === url.href)) out.push(url);
  }
  return out;
}
