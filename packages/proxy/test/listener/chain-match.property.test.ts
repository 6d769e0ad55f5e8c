// Filter chain selection (server names, then application protocols, then the default chain)
// checked against a plain statement of Envoy's rule, for random listeners and connections.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConnectionHandler } from '../../src/index.js';
import {
  CompiledFilterChain,
  CompiledListener,
  type ServerLimits,
} from '../../src/listener/filter-chains.js';
import { NETWORK_LIMITS } from '../../src/config/compile.js';
import { NOOP_STREAM_OBSERVER } from '../../src/observe/noop.js';

const UNUSED: ServerLimits = NETWORK_LIMITS;
const handler: ConnectionHandler = { kind: 'tcp', handle: () => undefined };
const NAMES = ['a.example.com', 'b.example.com', '*.example.com', '*.b.example.com', 'other.org'];
const PROTOCOLS = ['http/1.1', 'h2c', 'bolt', 'toy'];

function chain(name: string, serverNames: string[], protocols: string[]): CompiledFilterChain {
  return new CompiledFilterChain(
    name,
    serverNames,
    { handler, observer: NOOP_STREAM_OBSERVER },
    'AUTO',
    UNUSED,
    null,
    protocols,
  );
}

/** Envoy's rule, stated plainly: the most specific server-name match, then the protocol, else the default. */
function expected(
  chains: readonly CompiledFilterChain[],
  fallback: CompiledFilterChain | null,
  serverName: string | undefined,
  protocol: string | undefined,
): CompiledFilterChain | null {
  let group: CompiledFilterChain[] = [];
  if (serverName !== undefined) {
    group = chains.filter((c) => c.serverNames.includes(serverName));
    if (group.length === 0) {
      const labels = serverName.split('.');
      for (let i = 1; i < labels.length && group.length === 0; i++) {
        const wildcard = `*.${labels.slice(i).join('.')}`;
        group = chains.filter((c) => c.serverNames.includes(wildcard));
      }
    }
  }
  if (group.length === 0) group = chains.filter((c) => c.serverNames.length === 0);
  const listing =
    protocol === undefined ? undefined : group.find((c) => c.applicationProtocols.includes(protocol));
  return listing ?? group.find((c) => c.applicationProtocols.length === 0) ?? fallback;
}

describe('filter chain match', () => {
  it('picks by server name, then application protocol, then the default chain', () => {
    const chainSpec = fc.record({
      serverNames: fc.uniqueArray(fc.constantFrom(...NAMES), { maxLength: 2 }),
      protocols: fc.uniqueArray(fc.constantFrom(...PROTOCOLS), { maxLength: 2 }),
    });
    fc.assert(
      fc.property(
        fc.array(chainSpec, { maxLength: 6 }),
        fc.boolean(),
        fc.option(
          fc.constantFrom('a.example.com', 'x.b.example.com', 'c.example.com', 'other.org', 'none.net'),
          {
            nil: undefined,
          },
        ),
        fc.option(fc.constantFrom(...PROTOCOLS, 'dubbo'), { nil: undefined }),
        (specs, withDefault, serverName, protocol) => {
          const chains = specs.map((s, i) => chain(`c${String(i)}`, s.serverNames, s.protocols));
          const fallback = withDefault ? chain('default', [], []) : null;
          const listener = new CompiledListener('l', '127.0.0.1', 0, false, chains, fallback);
          expect(listener.select(serverName, protocol)).toBe(
            expected(chains, fallback, serverName, protocol),
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});
