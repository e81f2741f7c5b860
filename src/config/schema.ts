/**
 * The schema of rules.yaml: the user contract. It is the single source of the TypeScript
 * type compile reads (`Rules`), of validation (config/validate.ts), of the defaults, and of
 * the JSON Schema editors use (schema/rules.schema.json, via config/json-schema.ts).
 *
 * A default is written once, as the `default` of its option (which `Defaulted` marks);
 * nothing else in larder falls back to a value of its own. Every option is documented
 * here, once, in its `description`: meaning, unit and default (test/unit/config/
 * defaults.test.ts holds the descriptions, docs/configuration.md and rules.yaml to it).
 * Checks a JSON Schema cannot express (listen address, origin URL, cross-field rules) live
 * in config/compile.ts.
 */
import {
  Type,
  type Static,
  type TArray,
  type TObject,
  type TOptional,
  type TProperties,
  type TRecord,
  type TSchema,
  type TUnion,
} from '@sinclair/typebox';
import { DURATION_EXPECTED, DURATION_PATTERN, SIZE_EXPECTED, SIZE_PATTERN } from './units.js';

/**
 * What an error message says a value should look like. Symbol-keyed so that it never
 * leaks into the exported JSON Schema (JSON.stringify skips symbol keys).
 */
const Expected = Symbol.for('larder.config.expected');

function expects<T extends TSchema>(phrase: string, schema: T): T {
  (schema as unknown as Record<symbol, string>)[Expected] = phrase;
  return schema;
}

/** The human phrase attached to a schema node, if any ("a duration such as 30s, 5m or 1h"). */
export function expectedPhrase(schema: unknown): string | undefined {
  return (schema as Record<symbol, string | undefined> | undefined)?.[Expected];
}

const ROUTE_NAME_PATTERN = '^[a-zA-Z0-9_.-]+$';
export const LISTEN_EXPECTED = 'host:port, [ipv6]:port or a port number, such as 127.0.0.1:8080';
export const ORIGIN_EXPECTED =
  'an http:// or https:// URL without path, query or fragment, such as http://127.0.0.1:3000';

declare const DefaultedKind: unique symbol;

/** An optional key with a `default`: absent in the file, always present once the defaults are filled in. */
export type TDefaulted<T extends TSchema> = TOptional<T> & { readonly [DefaultedKind]: true };

/**
 * Marks an optional key whose schema carries the default. Validation fills it in at load
 * (config/load.ts), so `Rules` below types it as present: the schema is the only place a
 * default is written.
 */
function Defaulted<T extends TSchema>(schema: T): TDefaulted<T> {
  if (!('default' in schema)) throw new Error('Defaulted() needs a schema with a default');
  return Type.Optional(schema) as TDefaulted<T>;
}

const withDefault = (def: unknown) => (def === undefined ? {} : { default: def });

function duration(description: string, def?: string) {
  return expects(DURATION_EXPECTED, Type.String({ pattern: DURATION_PATTERN, description, ...withDefault(def) }));
}

function size(description: string, def: string) {
  return expects(
    SIZE_EXPECTED,
    Type.Union(
      [
        expects(SIZE_EXPECTED, Type.String({ pattern: SIZE_PATTERN })),
        expects(SIZE_EXPECTED, Type.Integer({ minimum: 0 })),
      ],
      { description, default: def },
    ),
  );
}

function originUrl(description: string, def?: string) {
  // The pattern is the editor's approximation; config/compile.ts parses the URL for real.
  return expects(ORIGIN_EXPECTED, Type.String({ pattern: '^https?://[^/?#\\s]+/?$', description, ...withDefault(def) }));
}

/** One address in `listen`: "host:port", "[ipv6]:port" or a port number. */
const AddressSchema = expects(
  LISTEN_EXPECTED,
  Type.Union([Type.String({ minLength: 1 }), expects(LISTEN_EXPECTED, Type.Integer({ minimum: 0, maximum: 65535 }))]),
);

/** One listener written as a mapping: an address with TLS, HTTP/2 and the PROXY protocol. */
const ListenerSchema = Type.Object(
  {
    address: expects(LISTEN_EXPECTED, { ...AddressSchema, description: 'Address of this listener: "host:port", "[ipv6]:port" or a port number (host 127.0.0.1). Required.' }),
    tls: Type.Optional(
      Type.Object(
        {
          cert: Type.String({ minLength: 1, description: 'PEM certificate chain file, relative to rules.yaml. Re-read on every reload (SIGHUP).' }),
          key: Type.String({ minLength: 1, description: 'PEM private key file, relative to rules.yaml. Re-read on every reload (SIGHUP).' }),
        },
        { additionalProperties: false, description: 'Serve TLS on this listener (X-Forwarded-Proto: https). Absent: plain HTTP.' },
      ),
    ),
    http2: Defaulted(
      Type.Boolean({
        default: false,
        description:
          'true offers HTTP/2 through ALPN ("h2"), with HTTP/1.1 for clients that do not ask for it. Needs tls ' +
          '(cleartext HTTP/2, h2c, is not offered). Default false.',
      }),
    ),
    proxyProtocol: Defaulted(
      Type.Boolean({
        default: false,
        description:
          'true: every connection must begin with a PROXY protocol v1 or v2 header (before TLS), whose source ' +
          'address is then the client address; a connection without a valid header is closed. With ' +
          'trustedProxies set, only those peers may connect. Default false.',
      }),
    ),
  },
  { additionalProperties: false, description: 'A listener: address, optional TLS, HTTP/2 and PROXY protocol.' },
);

/** `listen`: where clients connect; LARDER_LISTEN overrides it. */
const ListenSchema = expects(
  LISTEN_EXPECTED,
  Type.Union(
    [
      Type.String({ minLength: 1 }),
      expects(LISTEN_EXPECTED, Type.Integer({ minimum: 0, maximum: 65535 })),
      Type.Array(Type.Union([AddressSchema, ListenerSchema]), { minItems: 1 }),
    ],
    {
      description:
        'Address larder accepts client connections on: "host:port", "[ipv6]:port", or a bare port ' +
        'number (host 127.0.0.1). Write 0.0.0.0:8080 to listen on every interface; port 0 lets the ' +
        'OS choose a free port. A list gives several listeners: addresses, or mappings with address, tls, ' +
        'http2 and proxyProtocol. Default 127.0.0.1:8080. The LARDER_LISTEN environment variable replaces it.',
      default: '127.0.0.1:8080',
    },
  ),
);

/** `trustedProxies`: peers whose X-Forwarded-For, -Proto and -Host are kept and extended. */
const TrustedProxiesSchema = Type.Array(
  expects('an IP address or a CIDR block such as 10.0.0.0/8 or fd00::/8', Type.String({ minLength: 1 })),
  {
    default: [],
    description:
      'Peers (IP addresses or CIDR blocks, IPv4 or IPv6) whose X-Forwarded-For, X-Forwarded-Proto and ' +
      'X-Forwarded-Host are kept and extended instead of stripped: X-Forwarded-For gets the peer appended, ' +
      'X-Forwarded-Proto (http or https) is taken as the client scheme. X-Forwarded-Host is forwarded but never ' +
      'routes or keys. Requests from any other peer lose them as before. Default [].',
  },
);

export const UPSTREAM_OR_ORIGIN_EXPECTED =
  'the name of an upstream, or an http:// or https:// URL without path, query or fragment, such as http://127.0.0.1:3000';

/** `origin`: the default upstream; LARDER_ORIGIN overrides it. */
const OriginSchema = expects(
  UPSTREAM_OR_ORIGIN_EXPECTED,
  Type.String({
    // A URL (config/compile.ts parses it for real) or the name of an entry of `upstreams`.
    pattern: '^(https?://[^/?#\\s]+/?|[a-zA-Z0-9_.-]+)$',
    description:
      'Default upstream that requests are forwarded to: the name of an entry of upstreams, or an http or https URL ' +
      'with scheme, host and optional port only (the request path is appended as is), which is a single server with ' +
      'the client\'s Host, 256 connections, no health checks and no retries. Routes without their own origin or ' +
      'upstream use it. Default http://127.0.0.1:3000. The LARDER_ORIGIN environment variable replaces it.',
    default: 'http://127.0.0.1:3000',
  }),
);

const RETRY_ON_EXPECTED = 'connect, or a 5xx status such as 502';

/** One entry of `upstreams`: servers, balancing, health checks, retries, Host and TLS. */
export const UpstreamSchema = Type.Object(
  {
    servers: expects(
      'a list of one or more server URLs, such as [http://10.0.0.1:3000, http://10.0.0.2:3000]',
      Type.Array(originUrl('A server of this upstream: scheme, host and optional port.'), {
        minItems: 1,
        description: 'The servers, as http:// or https:// URLs without path. Required.',
      }),
    ),
    balance: Defaulted(
      Type.Union([Type.Literal('round-robin'), Type.Literal('least-connections')], {
        default: 'round-robin',
        description:
          'How a request picks among the healthy servers: round-robin takes them in turn; least-connections takes ' +
          'the one with the fewest requests in flight from this process. Default round-robin.',
      }),
    ),
    connections: Defaulted(
      Type.Integer({
        minimum: 1,
        maximum: 65535,
        default: 256,
        description: 'Most keep-alive connections open to each server (per process). Default 256.',
      }),
    ),
    healthCheck: Type.Optional(
      Type.Object(
        {
          path: Defaulted(
            Type.String({ pattern: '^/[^\\s#]*$', default: '/healthz', description: 'Path (and query) requested with GET. Default /healthz.' }),
          ),
          interval: Defaulted(duration('Time between two checks of a server. Default 5s.', '5s')),
          timeout: Defaulted(duration('Longest wait for a check\'s response head; longer counts as a failure. Default 1s.', '1s')),
          unhealthyAfter: Defaulted(
            Type.Integer({ minimum: 1, maximum: 100, default: 3, description: 'Consecutive failed checks that mark a healthy server down. Default 3.' }),
          ),
          healthyAfter: Defaulted(
            Type.Integer({ minimum: 1, maximum: 100, default: 2, description: 'Consecutive successful checks that bring a down server back. Default 2.' }),
          ),
        },
        {
          additionalProperties: false,
          description:
            'Active health checks: GET path on every server every interval; a 2xx or 3xx answer within timeout is a ' +
            'success. Absent: no active checks, and a server marked down by a failed request is tried again after 5s.',
        },
      ),
    ),
    retry: Defaulted(
      Type.Object(
        {
          attempts: Defaulted(
            Type.Integer({
              minimum: 1,
              maximum: 10,
              default: 1,
              description:
                'Tries in all for one GET or HEAD, the first included (2 = one retry), each on another healthy server ' +
                'when there is one. Default 1.',
            }),
          ),
          on: Defaulted(
            Type.Array(
              expects(
                RETRY_ON_EXPECTED,
                Type.Union([Type.Literal('connect'), expects(RETRY_ON_EXPECTED, Type.Integer({ minimum: 500, maximum: 599 }))]),
              ),
              {
                default: ['connect', 502, 503, 504],
                description:
                  'What is retried: connect (the connection failed or timed out) and these 5xx statuses. Default [connect, 502, 503, 504].',
              },
            ),
          ),
        },
        {
          additionalProperties: false,
          default: {},
          description:
            'Retries of GET and HEAD only, and never once any byte of the response reached the client. Requests with ' +
            'a body are never retried.',
        },
      ),
    ),
    host: Defaulted(
      Type.Union([Type.Literal('preserve'), Type.Literal('upstream')], {
        default: 'preserve',
        description:
          'The Host sent to a server: preserve sends the client\'s (and the cache key uses it); upstream sends the ' +
          'server\'s own host:port, and every client Host shares one cache entry per URL. Default preserve.',
      }),
    ),
    tls: Type.Optional(
      Type.Object(
        {
          ca: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the CAs that sign the servers\' certificates, relative to rules.yaml. Default: the system CAs.' })),
          cert: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the client certificate larder presents (with key), relative to rules.yaml.' })),
          key: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the client certificate\'s private key (with cert), relative to rules.yaml.' })),
          serverName: Type.Optional(
            Type.String({ pattern: '^[A-Za-z0-9.-]+$', description: 'Name sent in SNI and checked against the certificate. Default: the server URL\'s host.' }),
          ),
          verify: Defaulted(
            Type.Boolean({
              default: true,
              description: 'false accepts any server certificate: DANGEROUS, anyone on the path can read and change the traffic. Default true.',
            }),
          ),
        },
        { additionalProperties: false, description: 'TLS to https:// servers: CA, client certificate and server name. Files are read at load and on reload.' },
      ),
    ),
  },
  { additionalProperties: false, description: 'A named group of servers that routes send requests to.' },
);

/** `upstreams`: named groups of servers. */
const UpstreamsSchema = Type.Record(Type.String({ pattern: ROUTE_NAME_PATTERN }), UpstreamSchema, {
  default: {},
  additionalProperties: false,
  description:
    'Named upstreams (letters, digits, "_", "." and "-"), used by the top-level origin and by routes[].upstream. Default {}.',
});

/** `timeouts`: limits on each phase of an origin fetch; all durations. */
const TimeoutsSchema = Type.Object(
  {
    /** TCP (and TLS) connect to the origin. */
    connect: Defaulted(
      duration('Longest wait for the TCP (and TLS) connection to the origin. Default 5s.', '5s'),
    ),
    /** Request sent → response headers received. */
    headers: Defaulted(
      duration('Longest wait from sending the request to receiving the response headers. Default 30s.', '30s'),
    ),
    /** Longest silence between two body chunks. */
    body: Defaulted(
      duration(
        'Longest gap between two chunks of the response body (not the whole body). Default 30s.',
        '30s',
      ),
    ),
  },
  {
    additionalProperties: false,
    default: {},
    description:
      'Origin timeouts (durations, more than 0 and at most 24d). An expired timeout answers 504 LARDER_ORIGIN_TIMEOUT.',
  },
);

/** `cache`: storage limits and RFC 9111 tuning. */
const CacheSchema = Type.Object(
  {
    /** The in-process memory tier. */
    memory: Defaulted(
      Type.Object(
        {
          /** Total bytes of the memory tier. */
          maxSize: Defaulted(
            size(
              'Total size of the memory tier: headers + body + a fixed overhead per entry. ' +
                'Least recently used entries are evicted beyond it. Default 256mb (1kb = 1024 bytes; a bare number is bytes).',
              '256mb',
            ),
          ),
          /** Largest single entry. */
          maxEntrySize: Defaulted(
            size(
              'Largest response that is stored; larger responses are streamed to the client and not stored. ' +
                'At most maxSize. Default 8mb.',
              '8mb',
            ),
          ),
        },
        { additionalProperties: false, default: {}, description: 'Limits of the in-process memory tier.' },
      ),
    ),
    /** How long an uncacheable answer lets its key skip the request coalescing queue. */
    hitForPass: Defaulted(
      duration(
        'After the origin answers a key with an uncacheable response, requests for that key go straight ' +
          'to the origin for this long instead of queueing behind one fetch ("hit-for-pass"); their answers are relayed ' +
          'and not stored, and one that could be stored ends the window. 0s disables it. Default 10s.',
        '10s',
      ),
    ),
    /** How long a request waits for another request's fill of the same key. */
    lockTimeout: Defaulted(
      duration(
        'How long a request waits for another request\'s fill of the same key (in this process, another worker ' +
          'or another instance) before it fetches from the origin itself; like nginx\'s proxy_cache_lock_timeout. ' +
          'A fill holds a lease of a few seconds that it renews while it runs, so a holder that dies is waited ' +
          'for no longer than that lease. Default 10s.',
        '10s',
      ),
    ),
    /** Most variants per URL when responses carry Vary. */
    maxVariants: Defaulted(
      Type.Integer({
        minimum: 1,
        default: 16,
        description:
          'Most variants kept per URL when responses carry Vary; the oldest variant is dropped beyond it. Default 16.',
      }),
    ),
    /** Longest any entry is kept, whatever its freshness says. */
    maxTtl: Defaulted(
      duration(
        'Longest any entry is kept in memory or Redis, whatever its freshness and stale windows say. ' +
          'Purges by prefix, path or tag are remembered this long. Default 7d.',
        '7d',
      ),
    ),
    /** Targeted cache-control fields (RFC 9213), highest precedence first. */
    targetedCacheControl: Defaulted(
      Type.Array(Type.String({ pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" }), {
        default: ['Larder-Cache-Control', 'CDN-Cache-Control'],
        description:
          'Response fields that take precedence over Cache-Control for larder (RFC 9213), highest first. The first ' +
          'one present and valid is used and Cache-Control is ignored; these fields are not sent on to clients. ' +
          '[] turns them off. Default [Larder-Cache-Control, CDN-Cache-Control].',
      }),
    ),
    /** Compression on store (issue: content encoding); Accept-Encoding normalisation is always on. */
    compression: Defaulted(
      Type.Object(
        {
          /** Codings an identity response is stored in; the first the Node runtime has is stored, the others made on demand. */
          codings: Defaulted(
            Type.Array(Type.Union([Type.Literal('br'), Type.Literal('zstd'), Type.Literal('gzip')]), {
              default: ['br', 'gzip'],
              description:
                'Content codings larder compresses identity responses into when it stores them. The first one the Node ' +
                'runtime supports is stored (zstd needs Node 22.15 or later and is skipped where absent); a client that ' +
                'does not accept it gets one of the others, made once from the stored bytes and kept with the entry, or ' +
                'the decoded body. [] turns compression off. Default [br, gzip].',
            }),
          ),
          /** Compression level per coding. */
          level: Defaulted(
            Type.Object(
              {
                br: Defaulted(Type.Integer({ minimum: 0, maximum: 11, default: 5, description: 'Brotli quality, 0-11. Default 5.' })),
                gzip: Defaulted(Type.Integer({ minimum: 1, maximum: 9, default: 6, description: 'gzip level, 1-9. Default 6.' })),
                zstd: Defaulted(Type.Integer({ minimum: 1, maximum: 19, default: 3, description: 'zstd level, 1-19. Default 3.' })),
              },
              { additionalProperties: false, default: {}, description: 'Compression level of each coding.' },
            ),
          ),
          /** Smallest body worth compressing. */
          minSize: Defaulted(
            size('Bodies smaller than this are stored as the origin sent them. Default 1kb.', '1kb'),
          ),
          /** Media types that are compressed. */
          types: Defaulted(
            Type.Array(
              expects(
                'a media type such as text/html, text/* or application/*+json',
                Type.String({ pattern: '^[A-Za-z0-9!#$&^_.+-]+/(?:\\*|\\*\\+[A-Za-z0-9!#$&^_.+-]+|[A-Za-z0-9!#$&^_.+-]+)$' }),
              ),
              {
              default: [
                'text/*',
                'application/json',
                'application/*+json',
                'application/javascript',
                'application/xml',
                'application/*+xml',
                'application/wasm',
                'image/svg+xml',
                'font/ttf',
                'font/otf',
              ],
              description:
                'Media types (of Content-Type, parameters ignored) that are compressed: type/subtype, type/* or ' +
                'type/*+suffix. Default [text/*, application/json, application/*+json, application/javascript, ' +
                'application/xml, application/*+xml, application/wasm, image/svg+xml, font/ttf, font/otf].',
            }),
          ),
        },
        {
          additionalProperties: false,
          default: {},
          description:
            'Compression on store: a stored 200 response without Content-Encoding, of a listed type and at least ' +
            'minSize, that does not say no-transform, is compressed off the event loop and stored encoded.',
        },
      ),
    ),
    /** The shared Redis tier. Absent: larder runs on memory alone. */
    redis: Type.Optional(
      Type.Object(
        {
          /** One Redis server. */
          url: Type.Optional(
            expects(
              'a redis:// or rediss:// URL such as redis://127.0.0.1:6379',
              Type.String({
                pattern: '^rediss?://',
                description: 'URL of one Redis server: redis://[user:password@]host:port[/db]. Give url or cluster, not both.',
              }),
            ),
          ),
          /** Redis Cluster seed nodes. */
          cluster: Type.Optional(
            Type.Array(
              expects('a redis:// URL such as redis://10.0.0.1:7000', Type.String({ pattern: '^rediss?://' })),
              {
                minItems: 1,
                description: 'Seed nodes of a Redis Cluster, as redis://host:port URLs; the rest are discovered. Give url or cluster, not both.',
              },
            ),
          ),
          /** Key and channel prefix. */
          prefix: Defaulted(
            Type.String({
              minLength: 1,
              pattern: '^[^{}\\s]+$',
              default: 'larder:',
              description:
                'Prepended to every Redis key and pub/sub channel, so several larder deployments can share a Redis. ' +
                'No braces or spaces. Default "larder:".',
            }),
          ),
          /** Longest wait for one Redis command. */
          commandTimeout: Defaulted(
            duration(
              'Longest wait for one Redis command; past it the command counts as failed and the request goes on ' +
                'without Redis (memory tier and origin). Default 50ms.',
              '50ms',
            ),
          ),
          /** Entries encrypted at rest with AES-256-GCM. */
          encryption: Type.Optional(
            Type.Object(
              {
                keys: Type.Array(
                  Type.Object(
                    {
                      id: Type.String({
                        pattern: '^[A-Za-z0-9_.-]{1,64}$',
                        description: 'Name stored with each entry this key encrypts (letters, digits, _ . -; at most 64).',
                      }),
                      key: expects(
                        '32 bytes as 64 hex digits or 44 base64 characters, such as "${LARDER_KEY_K1}"',
                        Type.String({
                          minLength: 1,
                          description:
                            'The AES-256 key: 32 bytes written as 64 hex digits or 44 base64 characters. Give it from the ' +
                            'environment ("${LARDER_KEY_K1}"), never in the file.',
                        }),
                      ),
                    },
                    { additionalProperties: false },
                  ),
                  {
                    minItems: 1,
                    description:
                      'The first key encrypts; every listed key decrypts the entries that name its id. To rotate, put ' +
                      'the new key first and keep the old one until cache.maxTtl has passed.',
                  },
                ),
              },
              {
                additionalProperties: false,
                description:
                  'Encrypts entries at rest (AES-256-GCM over metadata and body, with the key id in the entry). An entry ' +
                  'that fails authentication is a miss, counted in larder_redis_decrypt_failures_total. With encryption ' +
                  'on, entries stored in the clear are misses.',
              },
            ),
          ),
          /** Circuit breaker around Redis. */
          breaker: Defaulted(
            Type.Object(
              {
                failures: Defaulted(
                  Type.Integer({
                    minimum: 1,
                    default: 5,
                    description: 'Consecutive failed Redis commands that open the breaker. Default 5.',
                  }),
                ),
                coolDown: Defaulted(
                  duration('How long an open breaker skips Redis before one probe command is let through. Default 5s.', '5s'),
                ),
              },
              {
                additionalProperties: false,
                default: {},
                description: 'While open, Redis is skipped entirely, so a dead Redis costs no latency.',
              },
            ),
          ),
        },
        {
          additionalProperties: false,
          description:
            'The shared second tier: every larder instance pointed at the same Redis shares entries, fill locks ' +
            'and invalidations. Absent: memory only.',
        },
      ),
    ),
    /** Heuristic freshness (RFC 9111 §4.2.2) for responses with Last-Modified but no explicit lifetime. */
    heuristic: Defaulted(
      Type.Object(
        {
          /** Fraction of (Date − Last-Modified). */
          fraction: Defaulted(
            Type.Number({
              minimum: 0,
              maximum: 1,
              default: 0.1,
              description:
                'Heuristic lifetime = this fraction of the time since Last-Modified (RFC 9111 §4.2.2). ' +
                '0 turns heuristic freshness off. Number from 0 to 1. Default 0.1.',
            }),
          ),
          /** Upper bound of a heuristic lifetime. */
          max: Defaulted(duration('Upper bound of a heuristic lifetime. Default 1d.', '1d')),
        },
        {
          additionalProperties: false,
          default: {},
          description:
            'Heuristic freshness for responses that carry Last-Modified but neither Cache-Control max-age nor Expires.',
        },
      ),
    ),
  },
  { additionalProperties: false, default: {}, description: 'Cache storage and tuning.' },
);

/**
 * Request headers that change what an origin answers without being part of the cache key:
 * removed from every client request before anything else reads it (docs/security.md).
 */
export const DEFAULT_STRIP_REQUEST_HEADERS = [
  'x-forwarded-*',
  'forwarded',
  'x-original-url',
  'x-original-uri',
  'x-rewrite-url',
  'x-override-url',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-host',
  'x-http-host-override',
  'x-original-host',
  'x-real-ip',
  'true-client-ip',
  'x-client-ip',
  'x-originating-ip',
  // Scheme claims some frameworks trust to build absolute URLs and redirects.
  'x-scheme',
  'x-url-scheme',
  'x-forwarded-scheme',
  'x-forwarded-ssl',
  'front-end-https',
];

/** `security`: limits on client requests and the fields stripped before forwarding. */
const SecuritySchema = Type.Object(
  {
    /** Largest request line + header section. */
    maxHeaderSize: Defaulted(
      size(
        'Largest request line plus header section a client may send; larger requests get 431 and the ' +
          'connection is closed. Default 16kb (1kb = 1024 bytes; a bare number is bytes).',
        '16kb',
      ),
    ),
    /** Largest request body. */
    maxRequestBodySize: Defaulted(
      size(
        'Largest request body a client may send (forwarded on pass-through routes): a larger Content-Length, or chunks ' +
          'adding up to more, get 413; a single chunk announcing more gets 400 as soon as its size line arrives. The ' +
          'connection is closed. Default 100mb.',
        '100mb',
      ),
    ),
    /** Most header fields in one request. */
    maxHeaders: Defaulted(
      Type.Integer({
        minimum: 1,
        maximum: 10000,
        default: 100,
        description: 'Most header field lines in one request; more get 431 and the connection is closed. Default 100.',
      }),
    ),
    /** Client-side timeouts (slowloris, idle keep-alive). */
    clientTimeouts: Defaulted(
      Type.Object(
        {
          headers: Defaulted(
            duration(
              'Longest a client may take to send a request\'s line and headers, counted from its first byte ' +
                '(or from the connection, for the first request); past it the client gets 408 and the connection ' +
                'is closed. Bounds slowloris clients. Default 10s.',
              '10s',
            ),
          ),
          request: Defaulted(
            duration(
              'Longest a client may take to send a whole request, body included; past it 408 and the connection ' +
                'is closed. Must be at least headers. Default 60s.',
              '60s',
            ),
          ),
          keepAlive: Defaulted(
            duration('How long an idle keep-alive connection is kept open between requests. Default 5s.', '5s'),
          ),
        },
        {
          additionalProperties: false,
          default: {},
          description:
            'Timeouts on the client side (origin timeouts are under timeouts:). Expiry is checked every headers/4, ' +
            'between 100ms and 1s; node keeps an idle keep-alive socket up to 1s past keepAlive.',
        },
      ),
    ),
    /** Request fields removed before anything reads or forwards them. */
    stripRequestHeaders: Defaulted(
      Type.Array(
        expects(
          'a header name such as x-forwarded-host, or a prefix ending in *, such as x-forwarded-*',
          Type.String({ pattern: "^[!#$%&'+.^_`|~0-9A-Za-z-]+\\*?$" }),
        ),
        {
          default: DEFAULT_STRIP_REQUEST_HEADERS,
          description:
            'Request header fields removed from every client request (cached and passed-through alike) before the ' +
            'key is built or anything is forwarded, because an origin may answer differently to them while they are ' +
            'not part of the cache key (cache poisoning). Case-insensitive; "_" matches "-"; a trailing "*" matches ' +
            'a prefix. larder then sets its own X-Forwarded-For, -Proto and -Host. [] strips nothing. Default: the ' +
            'X-Forwarded-* family, Forwarded, URL and method overrides (X-Original-URL, X-Rewrite-URL, ' +
            'X-HTTP-Method-Override, ...), host overrides (X-Host, ...) and client-IP claims (X-Real-IP, ...); see ' +
            'docs/security.md.',
        },
      ),
    ),
    /** What happens to a body sent with GET or HEAD. */
    getWithBody: Defaulted(
      Type.Union([Type.Literal('drop'), Type.Literal('reject')], {
        default: 'drop',
        description:
          'A GET or HEAD request that carries a body (Content-Length above 0 or Transfer-Encoding): "drop" reads ' +
          'and discards the body and forwards the request without one; "reject" answers 400 and closes the ' +
          'connection. The body is never forwarded. Default drop.',
      }),
    ),
    /** Whether a method of unknown safety (PURGE, M-SEARCH) invalidates like POST. */
    invalidateOnUnknownMethods: Defaulted(
      Type.Boolean({
        default: true,
        description:
          'RFC 9111 §4.4: a non-error answer to an unsafe method invalidates the target URI, "including methods ' +
          'whose safety is unknown". true follows it: POST, PUT, DELETE, PATCH and any method that is not known to ' +
          'be safe (PURGE, M-SEARCH, ...) invalidate. false: only POST, PUT, DELETE and PATCH do, so a client cannot ' +
          'evict entries by sending PURGE through the proxy to an origin that answers 200 to anything (purges then ' +
          'go through the admin API only). Default true.',
      }),
    ),
    /** What happens to %2F or %5C in a request path. */
    encodedSlashes: Defaulted(
      Type.Union([Type.Literal('reject'), Type.Literal('keep')], {
        default: 'reject',
        description:
          'A request path holding an encoded "/" or "\\" (%2F, %5C), which some origins decode and others do not: ' +
          '"reject" answers 400; "keep" forwards it as it is, and answers 400 only when the path decoded would ' +
          'match another route. Default reject.',
      }),
    ),
  },
  {
    additionalProperties: false,
    default: {},
    description: 'Limits on client requests and fields stripped before forwarding. Reference: docs/security.md.',
  },
);

/** `match.path`: a picomatch glob on the request path. */
const PathGlobSchema = expects(
  'a path glob starting with "/", such as /api/products/**',
  Type.String({
    pattern: '^/',
    description:
      'Glob on the request path without the query string, case-sensitive. "*" matches within one segment, ' +
      '"**" any number of segments ("/api/**" also matches "/api"). Default "/**" (every path).',
  }),
);

/** `match` in its long form. */
const MatchObjectSchema = Type.Object(
  {
    /** Path glob. */
    path: Defaulted({ ...PathGlobSchema, default: '/**' }),
    /** Methods (none: any). GET implies HEAD. */
    methods: Defaulted(
      Type.Array(expects('an HTTP method such as GET', Type.String({ pattern: '^[A-Za-z]+$' })), {
        default: [],
        description:
          'Request methods the route applies to, any case (written upper case). Listing GET also ' +
          'matches HEAD. Default [] = any method.',
      }),
    ),
    /** Host glob. Default any host. */
    host: Type.Optional(
      expects(
        'a host glob without port, such as api.example.com or *.example.com',
        Type.String({
          pattern: '^[^/\\s]+$',
          description:
            'Glob on the Host header without its port, case-insensitive; "*" matches any characters ' +
            '(dots included), so "*.example.com" also matches "a.b.example.com". Default: any host.',
        }),
      ),
    ),
  },
  { additionalProperties: false, description: 'Long form of match: path, methods and host must all match.' },
);

/** `key`: what makes two requests the same cache entry. */
const KeySchema = Type.Object(
  {
    /** Query parameters in the key (and forwarded). */
    query: Defaulted(
      expects(
        'all, none, or a list of query parameter names',
        Type.Union([Type.Literal('all'), Type.Literal('none'), Type.Array(Type.String({ minLength: 1 }))], {
        default: 'all',
        description:
          'Query parameters that take part in the key, sorted by name. "all" keeps every parameter; a list keeps ' +
          'only those names; "none" or [] keeps none. Parameters left out of the key are also NOT forwarded to ' +
          'the origin, so that two requests sharing a key always get the same response. Default "all".',
        }),
      ),
    ),
    /** Request headers in the key. */
    headers: Defaulted(
      Type.Array(
        expects(
          'an HTTP header name such as accept-language',
          Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" }),
        ),
        {
          default: [],
          description:
            'Request headers whose values take part in the key, in addition to what the response\'s Vary asks for. ' +
            'Names are case-insensitive. Default [].',
        },
      ),
    ),
  },
  { additionalProperties: false, default: {}, description: 'How the cache key is built from the request (method, host and path are always in it).' },
);

/** Response fields removed by default (routes[].responseHeaders); names and `*` prefixes, lower case. */
export const DEFAULT_STRIP_RESPONSE_HEADERS: readonly string[] = ['cache-tag', 'surrogate-control', 'surrogate-key', 'x-accel-*'];

function responseFieldName() {
  return expects(
    'a header name such as surrogate-key, or a prefix ending in *, such as x-accel-*',
    Type.String({ pattern: "^[!#$%&'+.^_`|~0-9A-Za-z-]+\\*?$" }),
  );
}

/** One entry of `routes`. */
export const RouteSchema = Type.Object(
  {
    /** Unique name; a metric label. Required. */
    name: expects(
      'a route name of letters, digits, "_", "." and "-" (it becomes a metric label)',
      Type.String({
        pattern: ROUTE_NAME_PATTERN,
        description:
          'Unique name of the route, shown in logs and used as a metric label: letters, digits, "_", "." and "-". ' +
          '"default" is reserved for the built-in route. Required.',
      }),
    ),
    /** Which requests the route applies to. Required. */
    match: expects(
      'a path glob such as /api/** or a mapping with path, methods and host',
      Type.Union([PathGlobSchema, MatchObjectSchema], {
      description:
        'Which requests the route applies to: a path glob such as "/api/**", or { path, methods, host }. ' +
        'The first route that matches wins. Required.',
      }),
    ),
    /** Upstream for this route. Default the top-level origin. */
    origin: Type.Optional(
      originUrl('Upstream URL for this route (a single server, as a URL top-level origin is); not with upstream. Default: the top-level origin.'),
    ),
    /** A named upstream for this route. Default the top-level origin. */
    upstream: Type.Optional(
      expects(
        'the name of an entry of upstreams',
        Type.String({
          pattern: ROUTE_NAME_PATTERN,
          description: 'Name of the entry of upstreams this route sends requests to; not with origin. Default: the top-level origin.',
        }),
      ),
    ),
    /** false: never stored, always passed through. */
    cache: Defaulted(
      Type.Boolean({
        default: true,
        description:
          'false: requests are always passed through to the origin and nothing is stored. Such a route may ' +
          'not set ttl, staleWhileRevalidate, staleIfError, key, tags, unsafeShareSetCookie, earlyRefresh or jitter. Default true.',
      }),
    ),
    /** Lifetime when the origin gives none. Default none. */
    ttl: Type.Optional(
      duration(
        'Freshness lifetime used only when the response carries no explicit freshness (no Cache-Control ' +
          'max-age/s-maxage, no Expires). Never overrides private, no-store, Set-Cookie or Authorization rules. ' +
          'Default: none (RFC 9111 heuristics alone).',
      ),
    ),
    /** Default stale-while-revalidate window. Default none. */
    staleWhileRevalidate: Type.Optional(
      duration(
        'How long a stale entry may be served while one background request refreshes it, when the ' +
          'response carries no stale-while-revalidate of its own. Default: none.',
      ),
    ),
    /** Default stale-if-error window. Default none. */
    staleIfError: Type.Optional(
      duration(
        'How long a stale entry may be served when the origin fails (error, timeout, 5xx), when the ' +
          'response carries no stale-if-error of its own. Default: none.',
      ),
    ),
    /** Lifetime that overrides the origin's freshness and no-cache/no-store. Default none. Leaves RFC 9111 behind. */
    forceTtl: Type.Optional(
      duration(
        'Stores and serves a response for this long whatever its max-age, s-maxage, Expires, no-cache, no-store, ' +
          'must-revalidate and proxy-revalidate say (nginx proxy_ignore_headers + proxy_cache_valid, Varnish beresp.ttl). ' +
          'Applies to 200, 203, 204, 300, 301 and 308 (other statuses: see ttlByStatus). Never overrides private, Set-Cookie, ' +
          'Vary: *, a request with Authorization, or a request carrying Cookie under cookies: keep. The stale windows still ' +
          'apply on top. Leaves RFC 9111 behind. Default: none.',
      ),
    ),
    /** Negative caching: a lifetime per error status. Default none. */
    ttlByStatus: Defaulted(
      expects(
        'a mapping of 4xx or 5xx status codes to durations, such as { 404: 30s, 410: 10m }',
      Type.Record(
        Type.String({ pattern: '^[45][0-9][0-9]$' }),
        duration('Lifetime for this status when the origin sent no freshness (with forceTtl: whatever it sent).'),
        {
          default: {},
          additionalProperties: false,
          description:
            'Lifetimes for 4xx and 5xx statuses the origin sent without freshness information (negative caching), such ' +
            'as { 404: 30s, 410: 10m }; with forceTtl they replace whatever the origin sent. Not allowed for 407. A stored ' +
            'error never replaces a stored good response, and never answers a request carrying Cookie under cookies: keep. ' +
            'Default {} (errors are cached only with the origin\'s own freshness).',
        },
      ),
      ),
    ),
    /** Whether request Cache-Control and Pragma take part in caching decisions. */
    clientDirectives: Defaulted(
      Type.Union([Type.Literal('honor'), Type.Literal('ignore')], {
        default: 'honor',
        description:
          'honor: request Cache-Control and Pragma are obeyed (RFC 9111 §5.2.1); a no-cache or max-age=0 request ' +
          'revalidates, and concurrent ones for a key share one revalidation. ignore: they are ignored for caching ' +
          'decisions (still forwarded), as Varnish and Fastly do; leaves RFC 9111 behind. Default honor.',
      }),
    ),
    /** What becomes of the request's Cookie. */
    cookies: Defaulted(
      Type.Union(
        [
          Type.Literal('keep'),
          Type.Literal('strip'),
          Type.Array(expects('a cookie name', Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" })), { minItems: 1 }),
        ],
        {
          default: 'keep',
          description:
            'keep: Cookie is forwarded, and a request carrying it is answered from the cache only with freshness the ' +
            'origin declared (never forceTtl, ttl, ttlByStatus or heuristics). strip: Cookie is removed before keying ' +
            'and forwarding, and Set-Cookie is removed from the origin\'s responses (static assets). A list of names: ' +
            'only those cookies are forwarded, and their values are part of the key. Default keep.',
        },
      ),
    ),
    key: Defaulted(KeySchema),
    /** Surrogate keys for purges. */
    tags: Defaulted(
      Type.Array(expects('a tag without spaces or commas', Type.String({ pattern: '^[^\\s,]+$' })), {
        default: [],
        description: 'Tags added to every entry this route stores, for purging by tag. Default [].',
      }),
    ),
    /** Store and replay Set-Cookie to everyone. */
    unsafeShareSetCookie: Defaulted(
      Type.Boolean({
        default: false,
        description:
          'true stores responses that carry Set-Cookie and replays that cookie to EVERY client. Only for ' +
          'cookies that are the same for everyone (e.g. a load-balancer cookie). Default false: such responses are not stored.',
      }),
    ),
    /** XFetch early refresh β. */
    earlyRefresh: Defaulted(
      Type.Number({
        minimum: 0,
        maximum: 10,
        default: 0,
        description:
          'Probabilistic early refresh (XFetch, β): a hit starts a background refresh with a probability that ' +
          'rises as expiry nears, scaled by how long the origin took to answer. 1 is the usual value, larger ' +
          'refreshes earlier, 0 turns it off. Default 0.',
      }),
    ),
    /** Spread of storage expiry. */
    jitter: Defaulted(
      expects(
        'a percentage such as 10%',
        Type.String({
          pattern: '^(100|[1-9]?[0-9])(\\.[0-9]+)?%$',
          default: '0%',
          description:
            'Moves each entry\'s storage expiry and early-refresh point earlier by a random share of its ' +
            'lifetime, up to this percentage, so that entries stored together do not expire together. Never ' +
            'extends freshness. Default 0%.',
        }),
      ),
    ),
    /** Response fields meant for caches, removed before a response reaches a client. */
    responseHeaders: Defaulted(
      Type.Object(
        {
          strip: Defaulted(
            Type.Array(responseFieldName(), {
              default: [],
              description:
                'Response fields removed, on top of the built-in list (Surrogate-Key, Cache-Tag, Surrogate-Control, ' +
                'X-Accel-*), from every response this route sends to a client: hits, misses and pass-through alike. ' +
                'Case-insensitive; a trailing "*" matches a prefix. Content-Length and Transfer-Encoding cannot be ' +
                'listed. Default [].',
            }),
          ),
          keep: Defaulted(
            Type.Array(responseFieldName(), {
              default: [],
              description:
                'Names taken off the built-in list, so that these fields reach clients (e.g. [surrogate-key] for a ' +
                'CDN in front of larder). Written as on the list ("x-accel-*" keeps the whole prefix). Default [].',
            }),
          ),
        },
        {
          additionalProperties: false,
          default: {},
          description:
            'Response fields that are meant for caches and are removed before a response reaches a client. larder ' +
            'still reads them first (tags from Surrogate-Key and Cache-Tag) and keeps them in the stored entry.',
        },
      ),
    ),
  },
  { additionalProperties: false, description: 'A route: which requests, which upstream, and how to cache them.' },
);

/** The whole of rules.yaml. */
export const RulesSchema = Type.Object(
  {
    listen: Defaulted(ListenSchema),
    trustedProxies: Defaulted(TrustedProxiesSchema),
    origin: Defaulted(OriginSchema),
    upstreams: Defaulted(UpstreamsSchema),
    timeouts: Defaulted(TimeoutsSchema),
    cache: Defaulted(CacheSchema),
    security: Defaulted(SecuritySchema),
    /** The admin listener: metrics, health, purge, explain. Absent: no admin listener. */
    admin: Type.Optional(
      Type.Object(
        {
          listen: expects(
            LISTEN_EXPECTED,
            Type.Union([Type.String({ minLength: 1 }), expects(LISTEN_EXPECTED, Type.Integer({ minimum: 0, maximum: 65535 }))], {
              description:
                'Address of the admin listener (GET /, /status, /metrics, /healthz, /readyz, /explain; POST /purge, /warm). ' +
                'Keep it off public interfaces. Required when admin is given.',
            }),
          ),
          token: Type.Optional(
            Type.String({
              description:
                'Bearer token ("Authorization: Bearer <token>") that the admin endpoints require, except those listed in ' +
                'admin.public. Without a token every GET endpoint is open and POST /purge and /warm are off. ' +
                'Use ${LARDER_ADMIN_TOKEN}.',
            }),
          ),
          public: Defaulted(
            Type.Array(
              Type.Union([Type.Literal('metrics'), Type.Literal('healthz'), Type.Literal('readyz'), Type.Literal('status'), Type.Literal('explain')]),
              {
                default: ['metrics', 'healthz', 'readyz'],
                description:
                  'GET endpoints that stay open when admin.token is set (metrics, healthz, readyz, status, explain; ' +
                  'status also opens the page at /). POST endpoints always need the token. Default [metrics, healthz, readyz].',
              },
            ),
          ),
          status: Defaulted(
            Type.Boolean({
              default: true,
              description:
                'The status page (GET /) and GET /status, with the collectors behind them (per-route time series, ' +
                'hottest keys, miss reasons). false: neither is served and nothing is collected. Default true.',
            }),
          ),
        },
        { additionalProperties: false, description: 'The admin listener. Absent: none.' },
      ),
    ),
    /** Cache warming at start-up and on reload. */
    warm: Type.Optional(
      Type.Object(
        {
          urls: Defaulted(
            Type.Array(Type.String({ pattern: '^(/|https?://)' }), {
              default: [],
              description: 'URLs fetched through the cache at start-up and after each reload: paths (/a?b) or http:// URLs (their host is sent).',
            }),
          ),
          file: Type.Optional(
            Type.String({ minLength: 1, description: 'A file with one URL per line (# comments allowed), relative to rules.yaml.' }),
          ),
          concurrency: Defaulted(Type.Integer({ minimum: 1, maximum: 256, default: 4, description: 'Warming requests in flight at once. Default 4.' })),
          waitForReady: Defaulted(
            Type.Boolean({ default: false, description: 'true: /readyz answers 503 until warming has finished. Default false.' }),
          ),
        },
        { additionalProperties: false, description: 'URLs to fetch into the cache before (or while) serving.' },
      ),
    ),
    /** When the rules file is read again. */
    reload: Defaulted(
      Type.Object(
        {
          watch: Defaulted(
            Type.Boolean({
              default: true,
              description:
                'true: the rules file is reloaded when it changes on disk, as well as on SIGHUP. false: only on SIGHUP ' +
                '(as nginx and Varnish do). Default true.',
            }),
          ),
        },
        { additionalProperties: false, default: {}, description: 'Reloading the rules file.' },
      ),
    ),
    /** Logging. */
    log: Defaulted(
      Type.Object(
        {
          level: Defaulted(
            Type.Union([Type.Literal('trace'), Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error'), Type.Literal('silent')], {
              default: 'info',
              description: 'Lowest level of application lines written (JSON on stdout, ISO times, level names). LARDER_LOG_LEVEL overrides it. Default info.',
            }),
          ),
          access: Defaulted(
            Type.Object(
              {
                format: Defaulted(
                  Type.Union([Type.Literal('json'), Type.Literal('combined')], {
                    default: 'json',
                    description:
                      'json: one JSON object per request (ISO time, client, method, path, status, bytes, ms, upstream_ms, ' +
                      'cache, detail, route, tier, upstream, key digest). combined: the Apache/nginx combined format followed ' +
                      'by cache=, detail=, route=, tier=, ms=, upstream_ms=, upstream= and key=. Default json.',
                  }),
                ),
                sample: Defaulted(
                  Type.Number({
                    minimum: 0,
                    maximum: 1,
                    default: 1,
                    description: 'Share of requests that get an access line: 1 every request, 0.01 one in a hundred, 0 none. Default 1.',
                  }),
                ),
                redactQuery: Defaulted(
                  Type.Array(Type.String({ minLength: 1 }), {
                    default: ['token', 'api_key'],
                    description:
                      'Query parameters whose values are written as REDACTED in access lines and on the status page ' +
                      '(names compared case-insensitively). Default [token, api_key].',
                  }),
                ),
              },
              { additionalProperties: false, default: {}, description: 'Access lines on stdout, one per answered request.' },
            ),
          ),
        },
        { additionalProperties: false, default: {}, description: 'Structured JSON logs on stdout.' },
      ),
    ),
    /** Who sees X-Cache, Cache-Status and X-Cache-Hits. */
    debugHeaders: Defaulted(
      expects(
        'always, never, or a mapping with a token',
        Type.Union(
          [
            Type.Literal('always'),
            Type.Literal('never'),
            Type.Object(
              {
                token: Type.String({
                  minLength: 16,
                  description: 'The secret a request shows in Larder-Debug: <token>; at least 16 characters. Use ${LARDER_DEBUG_TOKEN}.',
                }),
              },
              { additionalProperties: false },
            ),
          ],
          {
            default: 'always',
            description:
              'Who gets the debug response fields X-Cache, Cache-Status and X-Cache-Hits: "always" every client, ' +
              '"never" no client, { token: ... } only requests carrying "Larder-Debug: <token>" (compared in constant ' +
              'time). Metrics and logs record the cache result either way. The Larder-Debug request field is never ' +
              'forwarded to the origin nor part of a key. Default always.',
          },
        ),
      ),
    ),
    /** How long a shutdown waits for requests in flight. */
    shutdownGrace: Defaulted(
      duration(
        'On SIGTERM or SIGINT larder stops accepting connections and waits this long for requests and ' +
          'background refreshes in flight, then closes what is left. Default 10s.',
        '10s',
      ),
    ),
    /** Routes, tried in order. */
    routes: Defaulted(
      Type.Array(RouteSchema, {
        default: [],
        description:
          'Routes, tried in file order; the first match wins. A request no route matches is cached by ' +
          'the origin\'s headers alone (the built-in "default" route). Default [].',
      }),
    ),
  },
  {
    additionalProperties: false,
    // Docker Compose's convention: x-* keys hold YAML anchors (&defaults) and are ignored.
    // (TypeBox does not read patternProperties on objects; config/load.ts drops these keys.)
    patternProperties: { '^x-': {} },
    title: 'larder rules.yaml',
    description: 'Configuration of larder, the HTTP response-caching reverse proxy. Reference: docs/configuration.md.',
  },
);

type Flat<T> = { [K in keyof T]: T[K] } & {};
type Present<P extends TProperties> = {
  [K in keyof P]: P[K] extends TDefaulted<TSchema> ? K : P[K] extends TOptional<TSchema> ? never : K;
}[keyof P];

/** The static type of a schema once every default is filled in: a defaulted key is present. */
export type Filled<T> =
  T extends TObject<infer P>
    ? Flat<{ [K in Present<P>]: Filled<P[K]> } & { [K in Exclude<keyof P, Present<P>>]?: Filled<P[K]> }>
    : T extends TRecord<TSchema, infer V>
      ? Record<string, Filled<V>>
      : T extends TArray<infer I>
      ? Filled<I>[]
      : T extends TUnion<infer U>
        ? Filled<U[number]>
        : T extends TSchema
          ? Static<T>
          : never;

/** rules.yaml after validation filled in the defaults: what config/compile.ts reads. */
export type Rules = Filled<typeof RulesSchema>;
export type RouteRules = Filled<typeof RouteSchema>;

