// Errors of the admin server.
import { MeshletError } from '@meshlet/errors';

/**
 * A request to the admin server is malformed (an unknown query parameter value, a bad regex):
 * the admin answers 400 with the message; it never escapes to the process.
 */
export class AdminRequestError extends MeshletError {
  static override readonly code: string = 'MESHLET_ERR_PROXY_ADMIN_REQUEST';
}
