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

/**
 * Calls `done` once the response has been handed to the socket (or the connection closed
 * first) with the bytes written for it (status line, headers, body) and the request's total
 * time in ms. A response already ended (a hit written in one go) is counted at once, without
 * listeners. `elapsed` is the time the request had taken when its Outcome was emitted.
 */
export function whenSent(req: IncomingMessage, res: ServerResponse, elapsed: number, done: (bytes: number, ms: number) => void): void {
  if (res.writableEnded) return done(bytesSince(req.socket), elapsed);
  const start = performance.now() - elapsed;
  let called = false;
  const finish = (): void => {
    if (called) return;
    called = true;
    done(bytesSince(req.socket), performance.now() - start);
  };
  res.once('finish', finish);
  res.once('close', finish);
}
