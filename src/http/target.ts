/**
 * The request-target resolver: the one place that turns what a client asked for into the
 * route, the cache key and the request the origin will receive.
 *
 * Routing, keying, forwarding, Vary selection, invalidation after unsafe methods, purge by
 * URL and `/explain` all call `resolveRequest`, so none of them can read a request in a way
 * another does not. The path is normalised once (RFC 3986 §6.2.2) and the normalised path is
 * what goes upstream: the origin never gets a chance to resolve a dot-segment or decode an
 * escape that routing did not see.
 */
import type { Config, Route } from '../config/types.js';
import { matchRoute } from '../config/routes.js';
import { buildKey, type RequestKey } from '../cache/key.js';

/** A request larder answers 400 instead of routing. */
export interface TargetProblem {
  problem: string;
}

export interface ResolvedRequest {
  route: Route;
  /** Lower-case authority (host[:port]): the key's host, and the Host the origin receives. */
  host: string;
  /** Normalised path + the query as received: what a request that is not keyed forwards. */
  target: string;
  /** The primary key and the keyed upstream target (path + the route's normalised query). */
  key: RequestKey;
}

/** What `security.encodedSlashes` allows. */
export type EncodedSlashes = 'reject' | 'keep';

/**
 * RFC 3986 §3.2.2/§3.2.3 host [":" port]: an IP literal, or a reg-name (unreserved,
 * pct-encoded, sub-delims). No "/", "?", "#", "@" or spaces: the key is host + target,
 * and a Host with a "/" in it could otherwise make two different requests share a key.
 */
export const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?$/;

/** RFC 9112 §3.2.2 absolute-form: scheme "://" authority path-abempty [ "?" query ]. */
const ABSOLUTE = /^https?:\/\//i;

/**
 * Splits an absolute-form target into its authority and an origin-form target.
 * userinfo is refused: RFC 9110 §4.2.4 deprecates it and it hides the real host from a reader.
 */
export function splitAbsolute(url: string): { authority: string; target: string } | TargetProblem {
  const start = url.indexOf('//') + 2;
  let end = start;
  while (end < url.length && url[end] !== '/' && url[end] !== '?') end++;
  const authority = url.slice(start, end);
  if (authority === '' || authority.includes('@') || !HOST.test(authority)) {
    return { problem: 'the absolute-form target has an invalid authority' };
  }
  const rest = url.slice(end);
  return { authority: authority.toLowerCase(), target: rest === '' ? '/' : rest.startsWith('?') ? '/' + rest : rest };
}

/**
 * The one resolver. `hostHeader` is the Host field as received (validated by the server);
 * `rawTarget` the request-target in origin-form or absolute-form. For an absolute-form
 * target the authority comes from the URI (RFC 9112 §3.2.2) and replaces the Host field.
 */
export function resolveRequest(config: Config, method: string, hostHeader: string, rawTarget: string): ResolvedRequest | TargetProblem {
  let host = hostHeader.toLowerCase();
  let target = rawTarget;
  if (target.charCodeAt(0) !== 0x2f /* / */) {
    if (!ABSOLUTE.test(target)) return { problem: 'the request target must be a path or an absolute http URL' };
    const split = splitAbsolute(target);
    if ('problem' in split) return split;
    host = split.authority;
    target = split.target;
  }
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const path = normalisePath(rawPath);
  if (typeof path !== 'string') return path;
  const route = matchRoute(config, method, host, path);
  if (path.includes('%2F') || path.includes('%5C')) {
    if (config.security.encodedSlashes === 'reject') {
      return { problem: 'an encoded "/" or "\\" (%2F, %5C) in the path is refused (security.encodedSlashes)' };
    }
    // An origin that decodes them must not land on another route than the one chosen here.
    const decoded = normalisePath(path.replaceAll('%2F', '/').replaceAll('%5C', '/'));
    if (typeof decoded !== 'string' || matchRoute(config, method, host, decoded) !== route) {
      return { problem: 'the path reads as another route once %2F or %5C is decoded' };
    }
  }
  const full = path === rawPath ? target : q === -1 ? path : path + target.slice(q);
  return { route, host, target: full, key: buildKey(route.key, keyHost(route, host), full) };
}

/**
 * The host in the key: the Host that is forwarded. Under `host: upstream` every server gets
 * its own authority whatever the client sent, so the key holds the upstream's identity,
 * "@" + its name: HOST above never lets a client's Host contain "@", so no client can reach
 * or fill that entry with a Host of its own, and purges and /explain of any host find it.
 */
export function keyHost(route: Route, host: string): string {
  return route.upstream.host === 'upstream' ? '@' + route.upstream.name : host;
}

/** RFC 3986 §2.3 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function unreserved(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e
  );
}

const ESCAPE = /%([0-9A-Fa-f]{2})/g;

/**
 * A "." or ".." segment followed by path parameters (";..."): servlet containers drop the
 * parameters and then resolve the dot-segment, a reading no other component shares.
 */
const DOT_PARAMS = /^\.\.?;/;

/**
 * Normalises a path (starting with "/") the way every reader of it must agree on:
 * - RFC 3986 §6.2.2.2: escapes of unreserved characters are decoded (so "%2e%2e" is "..",
 *   "%61" is "a"); §6.2.2.1: other escapes are written with upper-case hex digits;
 * - RFC 3986 §5.2.4: "." and ".." segments are removed (".." at the root stays at the root);
 * - empty segments ("//") are merged into one "/", as most origin servers and routers do.
 * A dot-segment carrying path parameters ("..;x") is refused. Returns the input itself when
 * there is nothing to do, which is the common case and allocates nothing.
 */
export function normalisePath(path: string): string | TargetProblem {
  if (path.indexOf('%') === -1 && path.indexOf('/.') === -1 && path.indexOf('//') === -1) return path;
  const decoded =
    path.indexOf('%') === -1
      ? path
      : path.replace(ESCAPE, (_m, hex: string) => {
          const c = parseInt(hex, 16);
          return unreserved(c) ? String.fromCharCode(c) : '%' + hex.toUpperCase();
        });
  const segments = decoded.split('/');
  const out: string[] = [];
  let trailing = false;
  // segments[0] is what precedes the leading "/": empty.
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    const last = i === segments.length - 1;
    trailing = false;
    if (s === '' || s === '.') {
      trailing = last;
      continue;
    }
    if (s === '..') {
      out.pop();
      trailing = last;
      continue;
    }
    if (DOT_PARAMS.test(s)) return { problem: 'a dot-segment with path parameters ("..;") is refused' };
    out.push(s);
  }
  const joined = '/' + out.join('/');
  return trailing && out.length > 0 ? joined + '/' : joined;
}
