// What the data path reads of the overload manager: plain fields, set at each refresh, so a
// request or a connection pays one property read when nothing is overloaded.

/** The overload actions' current effect, read by listeners and connection managers. */
export class OverloadState {
  /** `stop_accepting_requests` is saturated: new requests get a local 503. */
  stopAcceptingRequests = false;
  /** `disable_http_keepalive`'s scale, 0 to 1: the share of responses that close their connection. */
  disableKeepAlive = 0;
  /** `reject_incoming_connections`'s scale, 0 to 1: the share of new connections closed at accept. */
  rejectConnections = 0;
  /** `global_downstream_max_connections`: connections beyond it are closed at accept (Infinity: none). */
  maxConnections: number = Number.POSITIVE_INFINITY;
  /** Downstream connections open on every listener of the proxy. */
  connections = 0;
  /** Connections closed at accept by `reject_incoming_connections`. */
  rejected = 0;
  /** Connections closed at accept by `global_downstream_max_connections`. */
  overflowed = 0;
  /** Responses whose connection `disable_http_keepalive` closed. */
  keepAliveDisabled = 0;

  /**
   * Whether a new connection may be served; counts it when so (`release()` when it closes).
   * `random` is only drawn while connections are being rejected by scale.
   */
  admit(random: () => number): boolean {
    if (this.connections >= this.maxConnections) {
      this.overflowed++;
      return false;
    }
    const reject = this.rejectConnections;
    if (reject > 0 && (reject >= 1 || random() < reject)) {
      this.rejected++;
      return false;
    }
    this.connections++;
    return true;
  }

  /** An admitted connection closed. */
  release(): void {
    this.connections--;
  }

  /** Whether this response should close its connection (`disable_http_keepalive`). */
  closeConnection(random: () => number): boolean {
    const scale = this.disableKeepAlive;
    if (scale <= 0 || (scale < 1 && random() >= scale)) return false;
    this.keepAliveDisabled++;
    return true;
  }
}
