// Listener filters that sniff the application protocol (Envoy's http_inspector, meshlet's
// protocol_inspector) and the listener's timeout for them, from Envoy YAML to the model.
import { describe, expect, it } from 'vitest';
import { formatIssue, translate, type Listener } from '@meshlet/xds';

const yaml = (filters: string, more = ''): string => `
listeners:
- name: one
  address: { socket_address: { address: 127.0.0.1, port_value: 9000 } }
${more}
  listener_filters:
${filters}
  filter_chains:
  - filter_chain_match: { application_protocols: [bolt] }
    filters:
    - name: envoy.filters.network.tcp_proxy
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
        stat_prefix: bolt
        cluster: bolt
`;

function listenerOf(text: string): { listener: Listener | undefined; errors: string[] } {
  const result = translate(text);
  return { listener: result.listeners[0], errors: result.errors.map(formatIssue) };
}

describe('listener filters', () => {
  it('translates meshlet.listener.v1.ProtocolInspector (TypedStruct) with its protocols', () => {
    const { listener, errors } = listenerOf(
      yaml(`  - name: meshlet.protocol_inspector
    typed_config:
      "@type": type.googleapis.com/xds.type.v3.TypedStruct
      type_url: type.googleapis.com/meshlet.listener.v1.ProtocolInspector
      value: { protocols: [bolt, dubbo] }
  - name: envoy.filters.listener.http_inspector
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector`),
    );
    expect(errors).toEqual([]);
    expect(listener?.listenerFilters).toEqual([
      { name: 'meshlet.protocol_inspector', kind: 'protocol_inspector', protocols: ['bolt', 'dubbo'] },
      { name: 'envoy.filters.listener.http_inspector', kind: 'http_inspector' },
    ]);
    expect(listener?.filterChains[0]?.filterChainMatch.applicationProtocols).toEqual(['bolt']);
    expect(listener?.listenerFiltersTimeoutMs).toBeUndefined();
    expect(listener?.continueOnListenerFiltersTimeout).toBeUndefined();
  });

  it('a protocol inspector without protocols recognises every protocol the proxy knows', () => {
    const { listener, errors } = listenerOf(
      yaml(`  - name: sniff
    typed_config:
      "@type": type.googleapis.com/udpa.type.v1.TypedStruct
      type_url: type.googleapis.com/meshlet.listener.v1.ProtocolInspector`),
    );
    expect(errors).toEqual([]);
    expect(listener?.listenerFilters).toEqual([{ name: 'sniff', kind: 'protocol_inspector' }]);
  });

  it('translates listener_filters_timeout and continue_on_listener_filters_timeout', () => {
    const { listener, errors } = listenerOf(
      yaml(
        `  - name: envoy.filters.listener.http_inspector`,
        `  listener_filters_timeout: 0.25s
  continue_on_listener_filters_timeout: true`,
      ),
    );
    expect(errors).toEqual([]);
    expect(listener?.listenerFiltersTimeoutMs).toBe(250);
    expect(listener?.continueOnListenerFiltersTimeout).toBe(true);
  });

  it('rejects unknown fields of the protocol inspector', () => {
    const { errors } = listenerOf(
      yaml(`  - name: sniff
    typed_config:
      "@type": type.googleapis.com/xds.type.v3.TypedStruct
      type_url: type.googleapis.com/meshlet.listener.v1.ProtocolInspector
      value: { protocols: [bolt], max_bytes: 3 }`),
    );
    expect(errors.join('\n')).toMatch(/listener_filters\[0\].*max_bytes/);
  });
});
