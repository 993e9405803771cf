/**
 * The grpc-echo ceiling's server: a bare connect-node server answering
 * grpc.health.v1.Health/Check over h2c, with none of Stockroom's
 * interceptors (logging, metrics, errors, admission, auth), no deadline
 * handling and no connection limits. What a trivial RPC costs on this
 * machine with this RPC library and nothing else, so that the ceiling
 * contains nothing of what it is used to measure. Run by bench/run.ts as
 * its own process: `node dist/bench/echo-server.js <port>`; prints
 * "listening" when ready.
 */
import http2 from 'node:http2';
import { create } from '@bufbuild/protobuf';
import type { ConnectRouter } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { Health, HealthCheckResponseSchema, HealthCheckResponse_ServingStatus } from '../gen/grpc/health/v1/health_pb.js';

const port = Number(process.argv[2]);
const serving = create(HealthCheckResponseSchema, { status: HealthCheckResponse_ServingStatus.SERVING });
const routes = (router: ConnectRouter) => router.service(Health, { check: () => serving });
const server = http2.createServer(connectNodeAdapter({ routes }));
server.listen(port, '127.0.0.1', () => process.stdout.write('listening\n'));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
