// Cache entries for the memory benches, built exactly as a fill builds them (createEntry).
import { createEntry } from '../../dist/cache/entry.js';
import { entryTimes, responseDirectives } from '../../dist/rfc9111/index.js';

/** A 200 entry on the default route with `headers` and a body of `bodySize` bytes of one letter. */
export function benchEntry(config, headers, bodySize, letter, now) {
  const response = { status: 200, headers, directives: responseDirectives(headers), requestTime: now, responseTime: now };
  return createEntry({
    route: config.defaultRoute,
    settings: config.cache,
    status: 200,
    statusMessage: 'OK',
    headers,
    body: Buffer.allocUnsafeSlow(bodySize).fill(letter),
    requestTime: now,
    responseTime: now,
    varyNames: [],
    varyValues: [],
    times: entryTimes(response, {}, config.defaultRoute, config.cache),
    keepSetCookie: false,
  });
}
