import { parseArgs } from 'node:util';
import type { StatusSnapshot } from '../ops/status.js';
import { ErrorCodes } from '../errors.js';
import { loadConfig } from '../config/load.js';

export const STATUS_HELP = `larder status: print the status of a running larder (its admin GET /status)

Usage: larder status [--admin http://127.0.0.1:9091] [--config rules.yaml] [--token T] [--json]

Options:
  -a, --admin <url>    the admin listener (default: admin.listen of the rules file)
  -c, --config <file>  rules file to read admin.listen and admin.token from (default: ./rules.yaml)
  -t, --token <token>  admin token (default: LARDER_ADMIN_TOKEN, then admin.token of the rules file)
      --json           print /status as JSON instead of tables
  -h, --help           show this help
`;

interface Out {
  out: (s: string) => void;
  err: (s: string) => void;
}

/** `larder status`: resolves to the exit code (0 shown, 1 not reachable or refused, 2 usage). */
export async function runStatus(argv: string[], io: Out = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        admin: { type: 'string', short: 'a' },
        config: { type: 'string', short: 'c', default: 'rules.yaml' },
        token: { type: 'string', short: 't' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    io.err(`${ErrorCodes.USAGE}: ${(err as Error).message}\n\n${STATUS_HELP}`);
    return 2;
  }
  if (values.help) {
    io.out(STATUS_HELP);
    return 0;
  }
  let admin = values.admin;
  let token = values.token ?? process.env['LARDER_ADMIN_TOKEN'] ?? undefined;
  if (admin === undefined || token === undefined) {
    try {
      const config = loadConfig(values.config);
      if (admin === undefined && config.admin !== undefined) {
        const { host, port } = config.admin.listen;
        const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
        admin = `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
      }
      token ??= config.admin?.token;
    } catch {
      // No usable rules file: --admin is needed.
    }
  }
  if (admin === undefined) {
    io.err(`${ErrorCodes.USAGE}: no admin listener to ask: give --admin http://host:port (or a --config with admin.listen)\n`);
    return 2;
  }
  const base = /^https?:\/\//.test(admin) ? admin.replace(/\/+$/, '') : `http://${admin}`;
  let res: Response;
  try {
    res = await fetch(`${base}/status`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(5_000) });
  } catch (err) {
    io.err(`cannot reach ${base}/status: ${(err as Error).message}\n`);
    return 1;
  }
  if (!res.ok) {
    const hint = res.status === 401 ? ' (give the admin token: --token or LARDER_ADMIN_TOKEN)' : res.status === 404 ? ' (admin.status is false there)' : '';
    io.err(`${base}/status answered ${res.status}${hint}\n`);
    return 1;
  }
  const s = (await res.json()) as StatusSnapshot;
  io.out(values.json ? JSON.stringify(s, null, 2) + '\n' : formatStatus(s, base));
  return 0;
}

const pct = (part: number, whole: number): string => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-');

function bytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** Control characters in client-sent keys would move a terminal's cursor: shown escaped. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Columns padded to their widest cell; numeric columns (right: true) aligned right. */
export function table(head: string[], rows: string[][], right: boolean[] = []): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (right[i] ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

/** Requests per second over the last minute of the series. */
function lastMinute(s: StatusSnapshot, pick: (b: StatusSnapshot['series'][number]) => number): number {
  const from = s.now - 60_000;
  let n = 0;
  let start = s.now;
  for (const b of s.series) {
    if (b.t + s.bucketMs <= from) continue;
    n += pick(b);
    start = Math.min(start, b.t);
  }
  return n / Math.max(1, (s.now - Math.max(start, from)) / 1000);
}

/** The terminal view of a /status answer. */
export function formatStatus(s: StatusSnapshot, from: string): string {
  const t = s.totals;
  const out: string[] = [];
  out.push(`larder at ${from}: ${s.workers} process${s.workers === 1 ? '' : 'es'}, up since ${new Date(s.since).toISOString()}\n`);
  out.push(
    `requests ${t.requests}  hits ${t.hits} (${pct(t.hits, t.requests)})  origin requests saved ${t.originSaved}  lock waits ${t.collapsed}  ` +
      `bytes from cache ${bytes(t.bytesCache)}, fetched ${bytes(t.bytesFetched)}  ${lastMinute(s, (b) => b.requests).toFixed(1)} req/s (last minute)\n\n`,
  );
  const routes = Object.keys(t.routes).sort();
  out.push(
    table(
      ['route', 'requests', 'hits', 'hit ratio', 'req/s (1 min)'],
      routes.map((r) => {
        const c = t.routes[r]!;
        return [printable(r), String(c.requests), String(c.hits), pct(c.hits, c.requests), lastMinute(s, (b) => b.routes[r]?.requests ?? 0).toFixed(1)];
      }),
      [false, true, true, true, true],
    ),
  );
  out.push(`\nmiss reasons (last ${s.window.ms < 60_000 ? `${Math.round(s.window.ms / 1000)} s` : `${Math.round(s.window.ms / 60_000)} min`})\n`);
  out.push(s.window.missReasons.length === 0 ? '  none\n' : table(['reason', 'requests'], s.window.missReasons.map((r) => [printable(r.reason), String(r.count)]), [false, true]));
  out.push(`\nhottest keys\n`);
  out.push(s.window.keys.length === 0 ? '  none\n' : table(['key', 'requests', 'misses'], s.window.keys.map((k) => [printable(k.key), String(k.requests), String(k.misses)]), [false, true, true]));
  const m = s.memory;
  out.push(`\nmemory   ${pct(m.bytes, m.maxSize)} full (${bytes(m.bytes)} of ${bytes(m.maxSize)}), ${m.entries} entries, ${m.evictions} evictions\n`);
  out.push(`redis    ${s.redis.configured ? s.redis.state + (s.redis.breakerOpen ? ' (breaker open: Redis skipped)' : '') : 'not configured'}\n`);
  if (s.upstreams.length === 0) out.push('upstream none (each route has one origin)\n');
  for (const u of s.upstreams) {
    const up = u.servers.filter((x) => x.up).length;
    out.push(`upstream ${printable(u.name)}: ${up} of ${u.servers.length} servers up\n`);
    out.push(table(['server', 'state', 'in flight'], u.servers.map((x) => [printable(x.url), x.up ? 'up' : 'DOWN', String(x.inFlight)]), [false, false, true]));
  }
  if (s.events.length > 0) {
    out.push('\nlast purges and reloads\n');
    out.push(table(['when', 'what', 'result', 'detail'], s.events.slice().reverse().map((e) => [new Date(e.at).toISOString(), e.kind, e.result, printable(e.detail)])));
  }
  return out.join('');
}
