// Runs larder from dist/ (npm run build first) in its own process: argv[2] = JSON rules. Prints the port.
import { buildConfig } from '../../dist/config/load.js';
import { createLarder } from '../../dist/app.js';
const rules = JSON.parse(process.argv[2]);
const larder = createLarder(buildConfig({ listen: '127.0.0.1:0', ...rules }, {}), { defaultMetrics: false });
const addr = await larder.listen(0, '127.0.0.1');
process.send?.({ port: addr.port });
process.on('message', async (m) => {
  if (m === 'stats') process.send?.({ stats: { memoryBytes: larder.memory.bytes, entries: larder.memory.entries, rss: process.memoryUsage().rss } });
});
