import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { TYPE_URLS, createAdsClient, createTestControlPlane } from '@meshlet/xds';
import { ManualTimers } from './helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('diagnostics_channel', () => {
  it('publishes meshlet:xds:ads-ack and meshlet:xds:ads-nack', async () => {
    const acks: unknown[] = [];
    const nacks: unknown[] = [];
    const onAck = (m: unknown): void => {
      acks.push(m);
    };
    const onNack = (m: unknown): void => {
      nacks.push(m);
    };
    subscribe('meshlet:xds:ads-ack', onAck);
    subscribe('meshlet:xds:ads-nack', onNack);
    cleanups.push(() => {
      unsubscribe('meshlet:xds:ads-ack', onAck);
      unsubscribe('meshlet:xds:ads-nack', onNack);
    });
    const cp = createTestControlPlane({ port: 0 });
    await cp.start();
    cleanups.push(() => cp.close());
    cp.setSnapshot({
      version: '1',
      listeners: [],
      routes: [],
      clusters: [{ name: 'c', type: 'STATIC', connect_timeout: '1s' }],
      endpoints: [],
    });
    const ads = createAdsClient({
      server: cp.address,
      node: { id: 'n', cluster: 'c' },
      timers: new ManualTimers(),
    });
    cleanups.push(() => {
      ads.close();
    });
    const acked = new Promise((resolve) => ads.once('ack', resolve));
    ads.start();
    await acked;
    expect(acks[0]).toMatchObject({ client: ads, typeUrl: TYPE_URLS.cluster, version: '1' });
    const nacked = new Promise((resolve) => ads.once('nack', resolve));
    cp.setSnapshot({
      version: '2',
      listeners: [],
      routes: [],
      clusters: [{ name: 'c', type: 'STATIC', connect_timeout: '1s', lb_policy: 'CLUSTER_PROVIDED' }],
      endpoints: [],
    });
    await nacked;
    expect(nacks[0]).toMatchObject({ client: ads, typeUrl: TYPE_URLS.cluster, version: '2' });
  });
});
