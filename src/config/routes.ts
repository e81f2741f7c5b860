/**
 * The route table at request time. Globs are compiled to regular expressions once, at
 * load; `matchRoute` runs on every request and allocates nothing beyond a substring
 * when the path has a query or the Host has a port.
 */
import picomatch from 'picomatch';
import type { Config, Route } from './types.js';

// dot: URL paths such as /.well-known/ are not hidden files.
const GLOB_OPTIONS: picomatch.PicomatchOptions = { dot: true };

/** Matchers that read the host; the others skip Host normalisation entirely. */
const hostAware = new WeakSet<Route['matches']>();

/**
 * Compiles a route's path glob and optional host glob into `Route.matches`.
 * @throws Error from picomatch on a glob it cannot compile.
 */
export function makeMatcher(pathGlob: string, hostGlob?: string): Route['matches'] {
  const path = picomatch.makeRe(pathGlob, GLOB_OPTIONS);
  if (hostGlob === undefined) return (_host, p) => path.test(p);
  const host = picomatch.makeRe(hostGlob.toLowerCase(), GLOB_OPTIONS);
  const matches: Route['matches'] = (h, p) => host.test(h) && path.test(p);
  hostAware.add(matches);
  return matches;
}

/** "Example.COM:8080" → "example.com"; "[::1]:8080" → "[::1]". */
export function normaliseHost(host: string): string {
  let end = host.length;
  if (host.charCodeAt(0) === 0x5b /* [ */) {
    const close = host.indexOf(']');
    if (close !== -1) end = close + 1;
  } else {
    const colon = host.indexOf(':');
    if (colon !== -1) end = colon;
  }
  return (end === host.length ? host : host.slice(0, end)).toLowerCase();
}

/**
 * The first configured route whose methods, path and host match, else `config.defaultRoute`.
 * `method` is compared as given (HTTP methods are case-sensitive; node:http upper-cases them);
 * `host` is the Host header, port and case allowed; `path` may carry a query string.
 */
export function matchRoute(config: Config, method: string, host: string, path: string): Route {
  const query = path.indexOf('?');
  const p = query === -1 ? path : path.slice(0, query);
  let h: string | undefined;
  const routes = config.routes;
  for (let i = 0; i < routes.length; i++) {
    const route = routes[i] as Route;
    if (route.methods.length !== 0 && !route.methods.includes(method)) continue;
    if (h === undefined && hostAware.has(route.matches)) h = normaliseHost(host);
    if (route.matches(h ?? '', p)) return route;
  }
  return config.defaultRoute;
}
