import http from 'node:http';
import type { Socket } from 'node:net';
import type { Handler } from './handler.js';

export interface ServerLimits {
  /** Idle time allowed between requests on a keep-alive connection (ms). */
  keepAliveTimeout: number;
  /** Time allowed to receive a request's headers (ms); bounds slowloris clients. */
  headersTimeout: number;
  /** Time allowed to receive a whole request (ms). */
  requestTimeout: number;
  /** Largest request header section (bytes). */
  maxHeaderSize: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  keepAliveTimeout: 5_000,
  headersTimeout: 10_000,
  requestTimeout: 60_000,
  maxHeaderSize: 16 * 1024,
};

/** The proxy listener: node:http in front of the handler, upgrades to the pass-through. */
export function createProxyServer(handler: Handler, limits = DEFAULT_LIMITS): http.Server {
  const server = http.createServer(
    {
      keepAliveTimeout: limits.keepAliveTimeout,
      headersTimeout: limits.headersTimeout,
      requestTimeout: limits.requestTimeout,
      maxHeaderSize: limits.maxHeaderSize,
    },
    handler.handle,
  );
  server.on('upgrade', handler.upgrade);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });
  return server;
}
