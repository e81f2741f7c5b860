import { buildConfig } from '../../src/config/load.js';
import { createLarder, type Larder, type LarderOptions } from '../../src/app.js';
import type { Outcome } from '../../src/http/handler.js';

export interface Running {
  url: string;
  larder: Larder;
  outcomes: Outcome[];
  close(): Promise<void>;
}

/** Starts larder on 127.0.0.1:0 in front of `origin`, with `rules` merged into a minimal config. */
export async function startLarder(origin: string, rules: Record<string, unknown> = {}, opts: LarderOptions = {}): Promise<Running> {
  const config = buildConfig({ listen: '127.0.0.1:0', origin, ...rules }, {});
  const outcomes: Outcome[] = [];
  const larder = createLarder(config, { ...opts, onOutcome: (o) => outcomes.push(o) });
  const addr = await larder.listen(0, '127.0.0.1');
  return { url: `http://127.0.0.1:${addr.port}`, larder, outcomes, close: () => larder.close(1_000) };
}
