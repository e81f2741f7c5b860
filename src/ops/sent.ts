import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Bytes each socket had written when its previous response was counted (keep-alive carries several). */
const counted = new WeakMap<Socket, number>();

function bytesSince(socket: Socket | null | undefined): number {
  if (socket == null) return 0;
  const total = socket.bytesWritten;
  const before = counted.get(socket) ?? 0;
  counted.set(socket, total);
  return total - before;
}

/** What whenSent calls: the request, the two values it was given, the bytes written and the total ms. */
export type SentCallback<A, B> = (req: IncomingMessage, a: A, b: B, bytes: number, ms: number) => void;

/**
 * Calls `done(req, a, b, bytes, ms)` once the response has been handed to the socket (or the
 * connection closed first), with the bytes written for it (status line, headers, body) and the
 * request's total time in ms. `elapsed` is the time the request had taken when its Outcome was
 * emitted. A response already ended (a hit written in one go) is counted at once, without
 * listeners or closures: `a` and `b` are passed through so that a caller can give one function
 * made at startup rather than a closure per request.
 */
export function whenSent<A, B>(req: IncomingMessage, res: ServerResponse, elapsed: number, done: SentCallback<A, B>, a: A, b: B): void {
  if (res.writableEnded) return done(req, a, b, bytesSince(req.socket), elapsed);
  const start = performance.now() - elapsed;
  let called = false;
  const finish = (): void => {
    if (called) return;
    called = true;
    done(req, a, b, bytesSince(req.socket), performance.now() - start);
  };
  res.once('finish', finish);
  res.once('close', finish);
}
