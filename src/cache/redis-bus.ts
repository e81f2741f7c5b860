import { Cluster, Redis } from 'ioredis';
import { bounded, commandTimeoutOf, reconnectDelay, type RedisClient, type RedisOp } from './redis-store.js';

export type MessageHandler = (message: string, channel: string) => void;

export interface RedisBusOptions {
  /** The main client: publishes go through it, and the subscriber connection copies its settings. */
  client: RedisClient;
  onError?: (op: RedisOp, err: unknown) => void;
}

/** Failed reconnects before the subscriber gives up on a node and picks one again. */
const ATTEMPTS_PER_NODE = 3;

/**
 * Pub/sub for invalidations and fill notices, on a connection of its own (a connection in
 * subscriber mode cannot serve the cache's commands, and must not share their fate).
 *
 * Plain PUBLISH/SUBSCRIBE is used on a Cluster too: Redis Cluster forwards every PUBLISH
 * to all nodes, so one subscriber connection to any node hears everything. (Sharded
 * pub/sub would need one connection per shard for channels that are not per-key.) The
 * subscriber is a plain connection to one node; when that node stays unreachable the bus
 * moves to another one.
 *
 * Messages published while the subscriber was disconnected are lost. `onReconnect`
 * listeners run each time the subscriptions are back in place after such a gap, so the
 * caller can drop what it may have missed (the memory tier).
 */
export class RedisBus {
  private readonly client: RedisClient;
  private readonly timeout: number;
  private readonly onError: ((op: RedisOp, err: unknown) => void) | undefined;
  private readonly handlers = new Map<string, Set<MessageHandler>>();
  private readonly reconnectListeners = new Set<() => void>();
  private sub: Redis | undefined;
  private closed = false;
  private everSubscribed = false;
  private rotateTimer: NodeJS.Timeout | undefined;
  private rotations = 0;
  private nodeIndex = 0;

  constructor(opts: RedisBusOptions) {
    this.client = opts.client;
    // Longest a publish or subscribe may take: the client's command timeout (the value it was
    // made with by createRedisClient, which sets no ioredis commandTimeout on one server), else 1 s.
    this.timeout = commandTimeoutOf(opts.client) ?? 1000;
    this.onError = opts.onError;
    this.connect();
  }

  /** Publishes on the main client. Resolves to false when the message could not be sent. */
  async publish(channel: string, message: string): Promise<boolean> {
    try {
      await bounded(this.client.publish(channel, message), this.timeout, 'publish');
      return true;
    } catch (err) {
      this.report('publish', err);
      return false;
    }
  }

  /**
   * Calls `handler` for every message on `channel`. Resolves once Redis has confirmed the
   * subscription (true), or false when it could not be confirmed now; the subscription is
   * kept either way and put in place whenever the connection is ready.
   */
  async subscribe(channel: string, handler: MessageHandler): Promise<boolean> {
    let set = this.handlers.get(channel);
    const fresh = set === undefined;
    if (set === undefined) {
      set = new Set();
      this.handlers.set(channel, set);
    }
    set.add(handler);
    const sub = this.sub;
    if (!fresh) return sub?.status === 'ready';
    if (sub === undefined || sub.status !== 'ready') return false;
    try {
      await bounded(sub.subscribe(channel), this.timeout, 'subscribe');
      return true;
    } catch (err) {
      this.report('subscribe', err);
      return false;
    }
  }

  /** Runs `cb` whenever subscriptions were restored after the subscriber connection was lost. */
  onReconnect(cb: () => void): () => void {
    this.reconnectListeners.add(cb);
    return () => this.reconnectListeners.delete(cb);
  }

  /** Whether the subscriber connection is up (messages are being received). */
  get connected(): boolean {
    return this.sub?.status === 'ready';
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.rotateTimer);
    const sub = this.sub;
    this.sub = undefined;
    if (sub === undefined) return;
    sub.removeAllListeners('ready');
    sub.removeAllListeners('end');
    sub.removeAllListeners('message');
    sub.disconnect();
  }

  private connect(): void {
    if (this.closed) return;
    const sub = this.newConnection();
    if (sub === undefined) {
      // A Cluster client that has not discovered any node yet: look again shortly.
      this.scheduleRotate();
      return;
    }
    this.sub = sub;
    sub.on('error', (err: unknown) => this.report('subscribe', err));
    sub.on('message', (channel: string, message: string) => this.dispatch(channel, message));
    sub.on('ready', () => void this.restore(sub));
    sub.once('end', () => {
      if (this.sub !== sub || this.closed) return;
      this.sub = undefined;
      this.scheduleRotate();
    });
  }

  private scheduleRotate(): void {
    if (this.closed) return;
    this.rotations++;
    clearTimeout(this.rotateTimer);
    this.rotateTimer = setTimeout(() => this.connect(), reconnectDelay(Math.min(this.rotations, 20)));
    this.rotateTimer.unref();
  }

  /**
   * A connection that reconnects by itself a few times, then ends so that `connect` can
   * choose a node again. Subscriptions are re-sent by `restore`, not by ioredis, so that
   * a reconnect and a new connection take the same path.
   */
  private newConnection(): Redis | undefined {
    const own = {
      enableOfflineQueue: false,
      autoResubscribe: false,
      lazyConnect: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (attempt: number) => (attempt > ATTEMPTS_PER_NODE ? null : reconnectDelay(attempt)),
      connectionName: 'larder-bus',
    };
    if (!(this.client instanceof Cluster)) return this.client.duplicate(own);
    const nodes = this.client.nodes('master');
    if (nodes.length === 0) return undefined;
    const node = nodes[this.nodeIndex++ % nodes.length]!;
    return new Redis({ ...this.client.options.redisOptions, host: node.options.host, port: node.options.port, ...own });
  }

  private async restore(sub: Redis): Promise<void> {
    const channels = [...this.handlers.keys()];
    try {
      if (channels.length > 0) await bounded(sub.subscribe(...channels), this.timeout, 'subscribe');
    } catch (err) {
      this.report('subscribe', err);
      // Without its subscriptions the connection is useless; a new one will try again.
      if (this.sub === sub) sub.disconnect(true);
      return;
    }
    if (this.sub !== sub || this.closed) return;
    this.rotations = 0;
    if (!this.everSubscribed) {
      this.everSubscribed = true;
      return;
    }
    for (const cb of this.reconnectListeners) {
      try {
        cb();
      } catch {
        // A listener failing must not stop the others or the bus.
      }
    }
  }

  private dispatch(channel: string, message: string): void {
    const set = this.handlers.get(channel);
    if (set === undefined) return;
    for (const handler of set) {
      try {
        handler(message, channel);
      } catch (err) {
        this.report('subscribe', err);
      }
    }
  }

  private report(op: RedisOp, err: unknown): void {
    try {
      this.onError?.(op, err);
    } catch {
      // Reporting is best effort.
    }
  }
}
