import type { Duplex } from 'node:stream';

/** What a {@link Tunnel} tells its request when both sides are closed. */
export interface TunnelOwner {
  onTunnelClosed(): void;
}

/**
 * An upgraded connection (WebSocket...) after the `101`: bytes piped both ways with
 * backpressure; when either side ends, errors or closes, both are destroyed, once.
 */
export class Tunnel {
  readonly #client: Duplex;
  readonly #upstream: Duplex;
  readonly #owner: TunnelOwner;
  #closed = false;
  readonly #teardown: () => void;

  constructor(client: Duplex, upstream: Duplex, owner: TunnelOwner) {
    this.#client = client;
    this.#upstream = upstream;
    this.#owner = owner;
    this.#teardown = () => {
      this.close();
    };
  }

  /** Starts piping. `head`: bytes the client sent past its request head. */
  open(head: Buffer): void {
    const client = this.#client;
    const upstream = this.#upstream;
    for (const socket of [client, upstream]) {
      socket.on('error', this.#teardown);
      socket.on('close', this.#teardown);
    }
    if (head.length > 0) upstream.write(head);
    // `pipe` ends the other side when one side ends; once that end is flushed, both go.
    client.pipe(upstream, { end: false });
    upstream.pipe(client, { end: false });
    client.once('end', () => upstream.end(this.#teardown));
    upstream.once('end', () => client.end(this.#teardown));
    if (client.destroyed || upstream.destroyed) this.close();
  }

  /** Destroys both sides (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.unpipe(this.#upstream);
    this.#upstream.unpipe(this.#client);
    this.#client.destroy();
    this.#upstream.destroy();
    this.#owner.onTunnelClosed();
  }
}
