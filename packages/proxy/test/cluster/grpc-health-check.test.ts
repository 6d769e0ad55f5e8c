// gRPC health checks against a real @grpc/grpc-js server implementing grpc.health.v1.Health/Check
// (messages encoded by hand: HealthCheckRequest { string service = 1 },
// HealthCheckResponse { ServingStatus status = 1 }).
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { sendUnaryData, ServerUnaryCall, ServiceDefinition } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { createClusterManager } from '../../src/cluster/index.js';
import { servingStatus } from '../../src/cluster/health-checker.js';
import { clusters, FakeTime, must, nextHealthCheck, NO_ENDPOINTS, staticCluster } from './helpers.js';
import { cleanupAfterEach } from '../e2e/scope.js';

const cleanup = cleanupAfterEach();

interface CheckRequest {
  service: string;
}
interface CheckResponse {
  status: number;
}

const health: ServiceDefinition = {
  Check: {
    path: '/grpc.health.v1.Health/Check',
    requestStream: false,
    responseStream: false,
    requestSerialize: (r: CheckRequest) =>
      Buffer.concat([Buffer.from([0x0a, r.service.length]), Buffer.from(r.service)]),
    // One field, a short string: enough for the names this test sends.
    requestDeserialize: (b: Buffer): CheckRequest => ({
      service: b.length > 2 ? b.subarray(2).toString() : '',
    }),
    responseSerialize: (r: CheckResponse) => Buffer.from([0x08, r.status]),
    responseDeserialize: (b: Buffer): CheckResponse => ({ status: b[1] ?? 0 }),
  },
};

async function healthServer(): Promise<{ port: number; state: { status: number; services: string[] } }> {
  const state = { status: 1, services: [] as string[] };
  const server = new Server();
  server.addService(health, {
    Check: (call: ServerUnaryCall<CheckRequest, CheckResponse>, callback: sendUnaryData<CheckResponse>) => {
      state.services.push(call.request.service);
      callback(null, { status: state.status });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => {
      if (err) reject(err);
      else resolve(p);
    });
  });
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => {
          resolve();
        });
      }),
  );
  return { port, state };
}

describe('active gRPC health checks', () => {
  it('passes on SERVING and fails at once on NOT_SERVING, asking for the configured service', async () => {
    const { port, state } = await healthServer();
    const time = new FakeTime(1000);
    const m = createClusterManager({ now: time.now, timers: time });
    cleanup.push(() => m.close());
    m.update(
      clusters(
        staticCluster('grpc', [port], {
          health_checks: [
            {
              timeout: '1s',
              interval: '1s',
              unhealthy_threshold: 3,
              healthy_threshold: 1,
              grpc_health_check: { service_name: 'orders' },
            },
          ],
          common_lb_config: { healthy_panic_threshold: { value: 0 } },
        }),
      ),
      NO_ENDPOINTS,
    );
    const c = must(m.get('grpc'));
    let next = nextHealthCheck(c);
    time.advance(10);
    let r = await next;
    expect(r.event).toMatchObject({ outcome: 'success', healthy: true, status: 200 });
    expect(state.services).toEqual(['orders']);
    expect(c.pick({})).not.toBeNull();

    state.status = 2; // NOT_SERVING
    next = nextHealthCheck(c);
    time.advance(60_000);
    r = await next;
    expect(r.event).toMatchObject({ outcome: 'active-failure', healthy: false, changed: true });
    expect(c.pick({})).toBeNull();
  });

  it('reads the serving status from a framed HealthCheckResponse', () => {
    const frame = (message: number[]): Buffer =>
      Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), Buffer.from(message)]);
    expect(servingStatus(frame([0x08, 1]))).toBe(1);
    expect(servingStatus(frame([0x08, 2]))).toBe(2);
    expect(servingStatus(frame([]))).toBe(0);
    // An unknown length-delimited field first is skipped.
    expect(servingStatus(frame([0x12, 2, 0x41, 0x42, 0x08, 1]))).toBe(1);
    expect(servingStatus(Buffer.from([1, 0, 0, 0, 2, 0x08, 1]))).toBe(0); // compressed: not read
    expect(servingStatus(Buffer.from([0, 0, 0, 0, 9, 0x08, 1]))).toBe(0); // truncated
  });
});
