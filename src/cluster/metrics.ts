import { AggregatorRegistry, type Registry } from 'prom-client';

/**
 * Lets the primary collect this worker's metrics (prom-client answers its requests over IPC). The
 * registry's cell metrics (metrics/cells.ts) give prom-client the JSON its own Counter and
 * Histogram would, with their aggregators, so the primary sums them as it sums those.
 */
export function shareWorkerMetrics(registry: Registry): void {
  // Constructing one installs prom-client's listener that answers the primary's metric requests.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
}

/** The metrics of every worker, summed (or per worker where prom-client's aggregation says so). */
export function clusterMetrics(): () => Promise<{ contentType: string; body: string }> {
  const registry = new AggregatorRegistry();
  return async () => ({ contentType: registry.contentType, body: await registry.clusterMetrics() });
}
