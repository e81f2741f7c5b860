/**
 * The validated, compiled configuration that the rest of larder reads.
 * Durations are milliseconds, sizes are bytes. Produced only by `config/load.ts`; frozen.
 */

export interface ListenAddress {
  host: string;
  port: number;
}

/** A listener's certificate: the files as written (absolute) and their PEM text as last read. */
export interface ListenerTls {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

/** One client listener (`listen`, or one item of its list form). */
export interface ListenerSettings extends ListenAddress {
  /** Absent: plain HTTP. */
  tls?: ListenerTls;
  /** HTTP/2 offered through ALPN (TLS only). */
  http2: boolean;
  /** Every connection starts with a PROXY protocol v1/v2 header. */
  proxyProtocol: boolean;
}

/** How a route builds the cache key from the request. */
export interface KeyRule {
  /**
   * Which query parameters take part in the key, and are forwarded to the origin:
   * 'all' keeps every parameter (sorted by name); a list keeps only those names (sorted).
   */
  query: 'all' | readonly string[];
  /** Lower-case request header names whose values take part in the key. */
  headers: readonly string[];
}

export interface Route {
  /** Unique name; used in metrics labels and logs. */
  name: string;
  /** True when the route came from rules.yaml; false for the built-in default route. */
  configured: boolean;
  /** Upper-case methods the route applies to (empty = any). */
  methods: readonly string[];
  /** Compiled matcher on (host without port, lower case; path without query). */
  matches(host: string, path: string): boolean;
  /** false: always passed through, never stored. */
  cache: boolean;
  /** The upstream's name as written: an entry of `upstreams`, or its URL (e.g. http://127.0.0.1:3000). */
  origin: string;
  /** Where the route's requests go. */
  upstream: Upstream;
  /** Freshness lifetime used only when the response carries no explicit freshness (ms). */
  ttl?: number;
  /**
   * Lifetime that replaces the origin's freshness and its no-cache, no-store, must-revalidate and
   * proxy-revalidate, for the statuses a `ttl` applies to (ms). Never overrides private,
   * Set-Cookie, Vary: *, Authorization, or Cookie under `cookies: keep`.
   */
  forceTtl?: number;
  /** Lifetimes of 4xx/5xx statuses sent without freshness (with forceTtl: whatever was sent), ms. */
  ttlByStatus: ReadonlyMap<number, number>;
  /** 'ignore': request Cache-Control and Pragma take no part in caching decisions. */
  clientDirectives: 'honor' | 'ignore';
  /**
   * The request's Cookie: forwarded ('keep'), removed ('strip', and Set-Cookie removed from
   * responses), or only these names forwarded and keyed (sorted, unique).
   */
  cookies: 'keep' | 'strip' | readonly string[];
  /** Default stale-while-revalidate window when the response has none (ms). */
  staleWhileRevalidate?: number;
  /** Default stale-if-error window when the response has none (ms). */
  staleIfError?: number;
  key: KeyRule;
  /** Tags added to every entry stored by this route. */
  tags: readonly string[];
  /**
   * Opt-in to store responses carrying Set-Cookie (the cookie is stored and replayed to
   * every client). Off by default; named for the risk.
   */
  unsafeShareSetCookie: boolean;
  /** XFetch β for probabilistic early refresh; 0 is off. */
  earlyRefresh: number;
  /** Largest share (0..1) of a lifetime that storage expiry and the early-refresh point move earlier. */
  jitter: number;
  /**
   * Lower-case response field names removed before a response reaches a client (a trailing
   * `*` is a prefix): the built-in list with `responseHeaders.keep` taken off and `.strip` added.
   * Sorted; never names Content-Length or Transfer-Encoding. See config/response-fields.ts.
   */
  responseHeaders: readonly string[];
}

/** TLS to an upstream's https servers; the files are read at load. */
export interface UpstreamTls {
  /** PEM text of the CAs; absent: the system CAs. */
  ca?: string;
  /** PEM text of the client certificate and its key. */
  cert?: string;
  key?: string;
  serverName?: string;
  /** false: any certificate is accepted. */
  verify: boolean;
}

export interface HealthCheck {
  /** Path and query requested with GET. */
  path: string;
  interval: number;
  timeout: number;
  unhealthyAfter: number;
  healthyAfter: number;
}

/**
 * A group of servers a route sends requests to: an entry of `upstreams`, or the single server
 * a URL `origin` names (then `implicit`, with today's behaviour: client Host, 256 connections,
 * no health checks, no retry).
 */
export interface Upstream {
  /** The entry's name, or the URL of an implicit upstream: unique within a Config. */
  name: string;
  implicit: boolean;
  /** Canonical base URLs ("scheme://host[:port]"). */
  servers: readonly string[];
  balance: 'round-robin' | 'least-connections';
  /** Connections per server. */
  connections: number;
  healthCheck?: HealthCheck;
  retry: {
    /** Tries in all, the first included. */
    attempts: number;
    /** Retry after a failed or timed-out connect. */
    connect: boolean;
    /** Retry after these statuses. */
    statuses: readonly number[];
  };
  /** The Host sent: the client's, or the chosen server's authority. */
  host: 'preserve' | 'upstream';
  tls?: UpstreamTls;
}

export interface Timeouts {
  /** TCP (and TLS) connect to the origin. */
  connect: number;
  /** From request sent to response headers received. */
  headers: number;
  /** Maximum gap between two body chunks. */
  body: number;
}

export interface RedisSettings {
  /** One server (redis:// URL); absent when `cluster` is given. */
  url?: string;
  /** Cluster seed nodes (redis:// URLs); absent for a single server. */
  cluster?: readonly string[];
  /** Prepended to every key and channel. */
  prefix: string;
  /** Longest wait for one command (ms). */
  commandTimeout: number;
  /** Consecutive failures that open the breaker. */
  breakerFailures: number;
  /** How long an open breaker skips Redis (ms). */
  breakerCoolDown: number;
  /** Entries encrypted at rest: the first key encrypts, every key decrypts. Keys as 64 hex digits (32 bytes). */
  encryption?: { keys: ReadonlyArray<{ id: string; key: string }> };
}

export interface CacheSettings {
  memory: {
    /** Total bytes the memory tier may hold (headers + body + fixed overhead per entry). */
    maxSize: number;
    /** Largest single entry; larger responses are streamed and not stored. */
    maxEntrySize: number;
  };
  /** How long an uncacheable answer makes its key skip the coalescing queue (ms). */
  hitForPass: number;
  /** How long a request waits for another request's fill before fetching itself (ms). */
  lockTimeout: number;
  /** Most variants kept per URL when responses carry Vary. */
  maxVariants: number;
  /** Heuristic freshness: this fraction of (Date - Last-Modified), RFC 9111 §4.2.2. */
  heuristicFraction: number;
  /** Upper bound of a heuristic lifetime (ms). */
  heuristicMax: number;
  /** Longest any entry is kept (ms); purge rules live this long. */
  maxTtl: number;
  /** Targeted cache-control field names (RFC 9213), lower case, highest precedence first. */
  targeted: readonly string[];
  /** Compression on store (cache.compression). */
  compression: CompressionSettings;
  /** The shared tier; absent for memory only. */
  redis?: RedisSettings;
}

/** `cache.compression`: identity responses stored compressed. */
export interface CompressionSettings {
  /** Codings in order of preference as configured (zstd is skipped at run time where Node lacks it). */
  codings: ReadonlyArray<'br' | 'zstd' | 'gzip'>;
  level: { br: number; gzip: number; zstd: number };
  /** Smallest body compressed (bytes). */
  minSize: number;
  /** Lower-case media type patterns: type/subtype, type/* or type/*+suffix. */
  types: readonly string[];
}

/** `security`: limits on client requests and what is stripped before forwarding. */
export interface SecuritySettings {
  /** Largest request line + header section (bytes); larger gets 431. */
  maxHeaderSize: number;
  /** Most header field lines in one request; more gets 431. */
  maxHeaders: number;
  /** Largest request body (bytes): a larger Content-Length or chunked total gets 413, a larger chunk size 400. */
  maxRequestBodySize: number;
  clientTimeouts: {
    /** Longest wait for a request's line and headers (ms). */
    headers: number;
    /** Longest wait for a whole request (ms). */
    request: number;
    /** Idle time allowed between requests on a keep-alive connection (ms). */
    keepAlive: number;
  };
  /** Lower-case request field names removed at the door; a trailing `*` is a prefix, `_` is read as `-`. */
  stripRequestHeaders: readonly string[];
  /** A GET or HEAD with a body: read and discard it, or answer 400. */
  getWithBody: 'drop' | 'reject';
  /** A path with %2F or %5C: refuse it, or keep it when its decoded reading picks the same route. */
  encodedSlashes: 'reject' | 'keep';
  /** Methods of unknown safety invalidate too (RFC 9111 §4.4); false: only POST, PUT, DELETE, PATCH. */
  invalidateOnUnknownMethods: boolean;
}

export interface AdminSettings {
  listen: ListenAddress;
  /** Bearer token the admin endpoints require (except `public` ones); absent: GETs are open, POSTs are off. */
  token?: string;
  /** GET endpoints open without the token when one is set. */
  public: readonly AdminEndpoint[];
  /** The status page, GET /status and their collectors. */
  status: boolean;
}

/** Admin GET endpoints that `admin.public` can open. */
export type AdminEndpoint = 'metrics' | 'healthz' | 'readyz' | 'status' | 'explain';

export interface Config {
  /** Absolute path of the file it came from, or undefined when built in code. */
  file?: string;
  /** The first listener's address. */
  listen: ListenAddress;
  /** Every client listener, in file order (the first is `listen`). */
  listeners: readonly ListenerSettings[];
  /** Peers whose X-Forwarded-For/-Proto/-Host are kept: addresses and CIDR blocks, as written. */
  trustedProxies: readonly string[];
  /** The default upstream as written: the name of an entry of `upstreams`, or a URL (canonical). */
  origin: string;
  /** Every upstream a route uses, by name (implicit ones by URL). */
  upstreams: Readonly<Record<string, Upstream>>;
  timeouts: Timeouts;
  cache: CacheSettings;
  /** Client request limits and stripped fields. */
  security: SecuritySettings;
  /** The admin listener; absent: none. */
  admin?: AdminSettings;
  log: {
    level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';
    /** Access lines: format, share of requests, query parameters redacted. */
    access: { format: 'json' | 'combined'; sample: number; redactQuery: readonly string[] };
  };
  /** Who gets X-Cache, Cache-Status and X-Cache-Hits: every client, none, or requests showing the token in Larder-Debug. */
  debugHeaders: 'always' | 'never' | { token: string };
  /** When the rules file is read again. */
  reload: { watch: boolean };
  /** How long a shutdown waits for requests in flight (ms). */
  shutdownGrace: number;
  /** Cache warming; absent: none. */
  warm?: {
    /** Paths or absolute URLs. */
    urls: readonly string[];
    /** A file of URLs, one per line, as written (relative to the rules file). */
    file?: string;
    concurrency: number;
    waitForReady: boolean;
  };
  /** Routes in file order. */
  routes: readonly Route[];
  /** Applies when no route matches: origin headers alone decide. */
  defaultRoute: Route;
}
