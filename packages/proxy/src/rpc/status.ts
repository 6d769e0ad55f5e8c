// Protocol statuses and HTTP statuses, both ways: a local reply's HTTP status (what filters use,
// `ctx.reply(429)`) becomes a protocol's `ReplyStatus`, and an upstream response's protocol status
// becomes an HTTP-like status for outlier detection, upstream stats and response hooks.
import { BoltStatus, DubboStatus, Frame } from '@meshlet/codec';
import type { Protocol, ReplyStatus, RpcFrame } from '@meshlet/codec';

/** The `ReplyStatus` a local reply of HTTP status `status` is sent as. */
export function replyStatusOf(status: number): ReplyStatus {
  switch (status) {
    case 404:
      return 'not-found';
    case 429:
      return 'rate-limited';
    case 502:
    case 503:
      return 'unavailable';
    case 408:
    case 504:
      return 'timeout';
    default:
      return status >= 400 && status < 500 ? 'bad-request' : 'internal';
  }
}

/** The HTTP status each `ReplyStatus` stands for. */
const HTTP_OF_REPLY: Readonly<Record<ReplyStatus, number>> = {
  'bad-request': 400,
  'not-found': 404,
  'rate-limited': 429,
  unavailable: 503,
  timeout: 504,
  internal: 500,
};

const BOLT: ReadonlyMap<number, number> = new Map<number, number>([
  [BoltStatus.SUCCESS, 200],
  [BoltStatus.NO_PROCESSOR, 404],
  [BoltStatus.SERVER_THREADPOOL_BUSY, 503],
  [BoltStatus.ERROR_COMM, 503],
  [BoltStatus.CONNECTION_CLOSED, 503],
  [BoltStatus.CLIENT_SEND_ERROR, 503],
  [BoltStatus.TIMEOUT, 504],
  [BoltStatus.CODEC_EXCEPTION, 400],
  [BoltStatus.SERVER_DESERIAL_EXCEPTION, 400],
]);

const DUBBO: ReadonlyMap<number, number> = new Map<number, number>([
  [DubboStatus.OK, 200],
  [DubboStatus.CLIENT_TIMEOUT, 504],
  [DubboStatus.SERVER_TIMEOUT, 504],
  [DubboStatus.BAD_REQUEST, 400],
  [DubboStatus.SERVICE_NOT_FOUND, 404],
  [DubboStatus.SERVER_THREADPOOL_EXHAUSTED_ERROR, 503],
]);

/**
 * How one protocol's response statuses read as HTTP statuses. Bolt and Dubbo have tables; a user
 * protocol's are learnt from its own `errorReply` (the status it gives each `ReplyStatus`), its
 * status 0 is success, and anything else is a 500.
 */
export class StatusMap {
  private readonly table: ReadonlyMap<number, number>;

  constructor(protocol: Protocol) {
    if (protocol.name === 'bolt') this.table = BOLT;
    else if (protocol.name === 'dubbo') this.table = DUBBO;
    else this.table = learn(protocol);
  }

  /** The HTTP status of a response frame. */
  httpStatus(frame: RpcFrame): number {
    return this.table.get(frame.status) ?? 500;
  }
}

function learn(protocol: Protocol): ReadonlyMap<number, number> {
  const table = new Map<number, number>([[0, 200]]);
  const probe = new Frame({ protocol: protocol.name, kind: 'request' });
  for (const [reply, http] of Object.entries(HTTP_OF_REPLY)) {
    try {
      const status = protocol.errorReply(probe, reply as ReplyStatus).status;
      // The first ReplyStatus to claim a code keeps it; 0 stays success.
      if (!table.has(status)) table.set(status, http);
    } catch {
      // An errorReply that needs fields of its own frame type: those statuses read as 500.
    }
  }
  return table;
}
