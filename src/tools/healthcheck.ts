/**
 * Container health probe: asks our own grpc.health.v1 service, the same
 * answer load balancers get. Exit 0 only when the server says SERVING.
 */
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { Health, HealthCheckResponse_ServingStatus } from '../../gen/grpc/health/v1/health_pb.js';

const port = process.env.STOCKROOM_PORT ?? '50051';
const scheme = process.env.STOCKROOM_TLS_CERT_FILE ? 'https' : 'http';
const client = createClient(Health, createGrpcTransport({ baseUrl: `${scheme}://127.0.0.1:${port}` }));
try {
  const response = await client.check({ service: '' }, { timeoutMs: 3_000 });
  process.exit(response.status === HealthCheckResponse_ServingStatus.SERVING ? 0 : 1);
} catch {
  process.exit(1);
}
