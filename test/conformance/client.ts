/**
 * larder's own player for the HTTP caching conformance suite (cache-tests.fyi). It reads the
 * suite's test definitions (plain data) and plays each test through a proxy, against the
 * suite's origin protocol (see origin.ts), reproducing the suite's published semantics:
 *
 * - each test gets a fresh uuid; its request list is PUT to /config/<uuid> first;
 * - request i goes to /test/<uuid>[/filename][?query_arg] with Test-ID, Test-Name and
 *   Req-Num: i, plus `Pragma: foo` and `Cache-Control: nothing-to-see-here` (so the fetch
 *   implementation adds no cache directives of its own) and the definition's request headers;
 * - after a request with `pause_after` the test waits 3 s;
 * - each response is checked (cached or not, status, headers, body), and finally what the
 *   origin saw (GET /state/<uuid>) is checked against the definitions.
 *
 * A check that a request marks as setup (`setup: true`, or named in `setup_tests`) failing
 * makes the test inconclusive (a "Setup" error) rather than failed.
 */
import { randomUUID } from 'node:crypto';
import { resolveHeaderValue, type HeaderDef, type SeenRequest } from './origin.js';

/** One request of a test definition (the fields this runner understands). */
export interface RequestDef {
  setup?: boolean;
  setup_tests?: string[];
  pause_after?: boolean;
  filename?: string;
  query_arg?: string;
  request_method?: string;
  request_headers?: [string, unknown][];
  request_body?: string;
  magic_ims?: boolean;
  magic_locations?: boolean;
  rfc850date?: string[];
  redirect?: 'follow' | 'manual' | 'error';
  mode?: string;
  credentials?: string;
  cache?: string;
  response_status?: [number, string];
  response_headers?: HeaderDef[];
  response_body?: string | null;
  expected_type?: 'cached' | 'not_cached' | 'lm_validated' | 'etag_validated' | string;
  expected_status?: number | null;
  expected_response_headers?: (string | [string, unknown] | [string, string, unknown])[];
  expected_response_headers_missing?: (string | [string, string])[];
  expected_request_headers?: (string | [string, string])[];
  expected_request_headers_missing?: (string | [string, string])[];
  expected_response_text?: string | null;
  expected_method?: string;
  expected_interim_responses?: unknown[];
  check_body?: boolean;
  [other: string]: unknown;
}

export interface TestDef {
  id: string;
  name: string;
  kind?: 'required' | 'optimal' | 'check';
  depends_on?: string[];
  browser_only?: boolean;
  browser_skip?: boolean;
  cdn_only?: boolean;
  requests: RequestDef[];
  [other: string]: unknown;
}

export interface SuiteDef {
  id: string;
  name: string;
  description?: string;
  tests: TestDef[];
}

/** The raw outcome of playing one test: true, or [error name, message]. */
export type RawResult = true | [string, string];

export interface ClientOptions {
  /** Base URL of the proxy under test, without trailing slash. */
  proxy: string;
  /** Where /config and /state requests go; defaults to `proxy` (as the suite's own client does). */
  control?: string;
  /** Per request, including reading the body. Default 10 s. */
  requestTimeoutMs?: number;
  /** The wait after a request with pause_after. Default 3 s; the definitions' freshness lifetimes assume it. */
  pauseMs?: number;
}

/** A failed check: `setup` ones make the test inconclusive, the others make it fail. */
export class CheckError extends Error {
  constructor(setup: boolean, message: string) {
    super(message);
    this.name = setup ? 'Setup' : 'Assertion';
  }
}

function check(setup: boolean, ok: boolean, message: string): void {
  if (!ok) throw new CheckError(setup, message);
}

function isSetup(def: RequestDef, member: string): boolean {
  return def.setup === true || (def.setup_tests?.includes(member) ?? false);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Played {
  status: number;
  headers: Headers;
}

/** Plays one test; never throws. */
export async function playTest(test: TestDef, opts: ClientOptions): Promise<RawResult> {
  const control = opts.control ?? opts.proxy;
  const timeoutMs = opts.requestTimeoutMs ?? 10_000;
  const pauseMs = opts.pauseMs ?? 3_000;
  const uuid = randomUUID();
  // Our own copy: the checks resolve magic header values in it.
  const defs = structuredClone(test.requests).map((d) => ({ ...d, name: test.name, id: test.id }));

  try {
    // The suite's client only logs a failed PUT and goes on; the requests then fail on setup.
    try {
      const put = await fetch(`${control}/config/${uuid}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(defs),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await put.arrayBuffer();
    } catch {
      /* see above */
    }

    const played: Played[] = [];
    for (let i = 0; i < defs.length; i++) {
      const def = defs[i]!;
      const reqNum = i + 1;
      let url = `${opts.proxy}/test/${uuid}`;
      if (def.filename !== undefined) url += `/${def.filename}`;
      if (def.query_arg !== undefined) url += `?${def.query_arg}`;

      const headers: [string, string][] = [
        ['Pragma', 'foo'],
        ['Cache-Control', 'nothing-to-see-here'],
      ];
      const previous = played[i - 1];
      for (const [name, value] of def.request_headers ?? []) {
        let v = value;
        if (def.magic_ims === true && name.toLowerCase() === 'if-modified-since' && previous) {
          v = resolveHeaderValue(name, v, def, Number.parseInt(previous.headers.get('server-now') ?? '', 10), previous.headers.get('server-base-url') ?? undefined);
        }
        headers.push([name, String(v)]);
      }
      headers.push(['Test-Name', test.name], ['Test-ID', test.id], ['Req-Num', String(reqNum)]);

      // `cache` is part of the Fetch standard; Node's fetch accepts it though its types omit it.
      const init: Record<string, unknown> = { headers, cache: def.cache ?? 'no-store', signal: AbortSignal.timeout(timeoutMs) };
      if (def.request_method !== undefined) init['method'] = def.request_method;
      if (def.request_body !== undefined) init['body'] = def.request_body;
      if (def.redirect !== undefined) init['redirect'] = def.redirect;

      const res = await fetch(url, init as RequestInit);
      played.push({ status: res.status, headers: res.headers });
      checkResponse(def, reqNum, res);
      const body = await res.text();
      checkBody(def, res.status, body, uuid);
      if (def.pause_after === true) await sleep(pauseMs);
    }

    const stateRes = await fetch(`${control}/state/${uuid}`, { signal: AbortSignal.timeout(timeoutMs) });
    const stateText = await stateRes.text();
    const state = stateRes.status === 200 ? (JSON.parse(stateText) as SeenRequest[]) : [];
    checkOriginSaw(defs, played, state);
    return true;
  } catch (err) {
    if (err instanceof Error) {
      // AbortSignal.timeout() rejects with a TimeoutError; the suite counts its timeouts
      // (AbortError) as harness failures, so report them under that name.
      const name = err.name === 'TimeoutError' ? 'AbortError' : err.name;
      return [name, err.message];
    }
    return ['Error', String(err)];
  }
}

function checkResponse(def: RequestDef, reqNum: number, res: Response): void {
  const serverCount = Number.parseInt(res.headers.get('server-request-count') ?? '', 10);

  // The origin lists the request numbers it has seen; a repeated one means the proxy retried.
  const numbers = res.headers.get('request-numbers');
  if (numbers !== null) {
    const list = numbers.split(' ').map((n) => Number.parseInt(n, 10));
    check(true, list.length === new Set(list).size, 'retry');
  }

  if (def.expected_type !== undefined) {
    const setup = isSetup(def, 'expected_type');
    if (def.expected_type === 'cached' && !(res.status === 304 && Number.isNaN(serverCount))) {
      check(setup, serverCount < reqNum, `Response ${reqNum} does not come from cache`);
    }
    if (def.expected_type === 'not_cached') {
      check(setup, serverCount === reqNum, `Response ${reqNum} comes from cache`);
    }
  }

  if (def.expected_status !== undefined) {
    if (def.expected_status !== null) {
      check(isSetup(def, 'expected_status'), res.status === def.expected_status, `Response ${reqNum} status is ${res.status}, not ${def.expected_status}`);
    }
  } else if (def.response_status !== undefined) {
    check(true, res.status === def.response_status[0], `Response ${reqNum} status is ${res.status}, not ${def.response_status[0]}`);
  } else if (res.status === 999) {
    // The origin answers 999 when it expected a conditional request and did not get one.
    check(isSetup(def, 'expected_type'), false, `Request ${reqNum} should have been conditional, but it was not.`);
  } else {
    check(true, res.status === 200, `Response ${reqNum} status is ${res.status}, not 200`);
  }

  if (def.expected_response_headers !== undefined) {
    const setup = isSetup(def, 'expected_response_headers');
    for (const h of def.expected_response_headers) {
      if (typeof h === 'string') {
        check(setup, res.headers.has(h), `Response ${reqNum} ${h} header not present.`);
        continue;
      }
      const got = res.headers.get(h[0]);
      if (h.length > 2) {
        const [name, op, operand] = h as [string, string, unknown];
        check(setup, got !== null, `Response ${reqNum} ${name} header not present.`);
        if (op === '=') {
          const other = res.headers.get(String(operand));
          check(setup, got === other, `Response ${reqNum} header ${name} is ${got}, should match ${String(operand)} (${other})`);
        } else if (op === '>') {
          check(setup, Number.parseInt(got ?? '', 10) > Number(operand), `Response ${reqNum} header ${name} is ${got}, should be bigger than ${String(operand)}`);
        } else {
          throw new Error(`Unknown expected-header operator '${op}'`);
        }
        continue;
      }
      const serverNow = Number.parseInt(res.headers.get('server-now') ?? '', 10);
      const want = resolveHeaderValue(h[0], h[1], def, serverNow, res.headers.get('server-base-url') ?? 'undefined');
      check(setup, got === want, `Response ${reqNum} header ${h[0]} is "${got}", not "${String(want)}"`);
    }
  }

  if (def.expected_response_headers_missing !== undefined) {
    const setup = isSetup(def, 'expected_response_headers_missing');
    for (const h of def.expected_response_headers_missing) {
      if (typeof h === 'string') {
        check(setup, !res.headers.has(h), `Response ${reqNum} includes unexpected header ${h}: "${res.headers.get(h)}"`);
      } else if (h.length !== 2) {
        throw new Error(`Unknown unexpected-header form '${String(h)}'`);
      }
      // The [name, value] form ("header does not contain value") is never enforced by the
      // suite's own client (it looks the header up in a way that always misses), so it is
      // not checked here either: results must stay comparable with cache-tests.fyi.
    }
  }

  if (def.expected_interim_responses !== undefined) {
    throw new Error('expected_interim_responses is not supported by this runner');
  }
}

function checkBody(def: RequestDef, status: number, body: string, uuid: string): void {
  if (def.check_body === false) return;
  if (def.expected_response_text !== undefined) {
    if (def.expected_response_text !== null) {
      check(isSetup(def, 'expected_response_text'), body === def.expected_response_text, `Response body is "${body}", not "${def.expected_response_text}"`);
    }
  } else if (def.response_body !== undefined && def.response_body !== null) {
    check(true, body === def.response_body, `Response body is "${body}", not "${def.response_body}"`);
  } else if (status !== 204 && status !== 304 && def.request_method !== 'HEAD') {
    check(true, body === uuid, `Response body is "${body}", not "${uuid}"`);
  }
}

/** Compares what the origin saw with what each request expected of it. */
function checkOriginSaw(defs: RequestDef[], played: Played[], state: SeenRequest[]): void {
  let seenIdx = 0;
  for (let i = 0; i < defs.length; i++) {
    const def = defs[i]!;
    const reqNum = i + 1;
    const response = played[i]!;
    const typeSetup = isSetup(def, 'expected_type');
    // A request expected to be served from cache is not looked for at the origin; every
    // other one is assumed to be the next the origin saw.
    if (def.expected_type === 'cached') continue;
    const seen = state[seenIdx];
    const validators: string[] = [];
    if (def.expected_type === 'not_cached') {
      if (seen === undefined) throw new TypeError(`Request ${reqNum} did not reach the origin`);
      check(typeSetup, seen.request_num === reqNum, `Response ${reqNum} comes from cache (${seen.request_num} on server)`);
    }
    if (def.expected_type === 'etag_validated') validators.push('if-none-match');
    if (def.expected_type === 'lm_validated') validators.push('if-modified-since');
    seenIdx++;
    for (const v of validators) {
      check(typeSetup, seen !== undefined, `request ${reqNum} wasn't sent to server`);
      check(typeSetup, Object.hasOwn(seen!.request_headers, v), `request ${reqNum} doesn't have ${v} header`);
    }
    const reqHeader = (name: string): unknown => {
      if (seen === undefined) throw new TypeError(`Request ${reqNum} did not reach the origin`);
      return seen.request_headers[name.toLowerCase()];
    };
    if (def.expected_request_headers !== undefined) {
      const setup = isSetup(def, 'expected_request_headers');
      for (const h of def.expected_request_headers) {
        if (typeof h === 'string') {
          reqHeader(h);
          check(setup, Object.hasOwn(seen!.request_headers, h.toLowerCase()), `Request ${reqNum} ${h} header not present.`);
        } else {
          const got = reqHeader(h[0]);
          check(setup, got === h[1], `Request ${reqNum} header ${h[0]} is "${String(got)}", not "${h[1]}"`);
        }
      }
    }
    if (def.expected_request_headers_missing !== undefined) {
      const setup = isSetup(def, 'expected_request_headers_missing');
      for (const h of def.expected_request_headers_missing) {
        if (typeof h === 'string') {
          reqHeader(h);
          check(setup, !Object.hasOwn(seen!.request_headers, h.toLowerCase()), `Request ${reqNum} ${h} header present.`);
        } else {
          const got = reqHeader(h[0]);
          check(setup, got !== h[1], `Request ${reqNum} header ${h[0]} is "${String(got)}"`);
        }
      }
    }
    // Every header the origin sent (and marked for checking) must reach the client unchanged.
    for (const [name, sent] of seen?.response_headers ?? []) {
      if (name.toLowerCase() === 'date') continue; // caches legitimately replace it
      const want = Array.isArray(sent) ? sent.join(', ') : sent;
      const got = response.headers.get(name);
      check(true, got === want, `Response ${reqNum} header ${name} is "${got}", not "${String(want)}"`);
    }
    if (def.expected_method !== undefined) {
      if (seen === undefined) throw new TypeError(`Request ${reqNum} did not reach the origin`);
      check(isSetup(def, 'expected_method'), seen.request_method === def.expected_method, `Request ${reqNum} had method ${seen.request_method}, not ${def.expected_method}`);
    }
  }
}
