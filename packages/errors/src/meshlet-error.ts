/**
 * The brand every meshlet error carries. It is a registered symbol (`Symbol.for`), so two copies
 * of this package installed side by side (a dependency that pins another version, say) still
 * recognise each other's errors: `instanceof` and {@link isMeshletError} look at the brand, not
 * at the class object.
 */
const kCodes = Symbol.for('meshlet.error.codes');

interface ErrorClass {
  readonly code?: unknown;
}

/**
 * Base class of every error a meshlet package throws.
 *
 * Each subclass declares its own stable `static code` (`MESHLET_ERR_*`, never reused) and the
 * instance carries it as `error.code`. `instanceof` works across duplicate installs: an error is
 * an instance of a class when that class's code appears in the error's class chain, whichever
 * copy of the class created it.
 *
 * @example
 * ```ts
 * class PoolClosedError extends MeshletError {
 *   static override readonly code: string = 'MESHLET_ERR_POOL_CLOSED';
 * }
 * try { ... } catch (err) { if (err instanceof PoolClosedError) ... }
 * ```
 */
export class MeshletError extends Error {
  /** The code of this class; subclasses override it. */
  static readonly code: string = 'MESHLET_ERR';

  /** The stable code of this error, one of those listed in docs/errors.md. */
  readonly code: string;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    const ctor = new.target as ErrorClass & { readonly name: string };
    this.name = ctor.name;
    this.code = typeof ctor.code === 'string' ? ctor.code : MeshletError.code;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // A subclass that forgot its own code would match every error of its parent; fall back to
    // the prototype chain for it instead of claiming too much.
    if (!Object.hasOwn(this, 'code')) return Function.prototype[Symbol.hasInstance].call(this, value);
    return hasCode(value, (this as ErrorClass).code as string);
  }
}

// The brand is a getter on the prototype (not a field on each error): it costs nothing per error
// and stays out of the type declarations.
Object.defineProperty(MeshletError.prototype, kCodes, {
  configurable: false,
  enumerable: false,
  get(this: MeshletError): readonly string[] {
    // The codes of this error's class chain, most specific first: the cross-copy identity.
    const codes: string[] = [];
    let ctor: unknown = this.constructor;
    while (typeof ctor === 'function') {
      const code = (ctor as ErrorClass).code;
      if (typeof code !== 'string') break;
      if (Object.hasOwn(ctor, 'code')) codes.push(code);
      ctor = Object.getPrototypeOf(ctor);
    }
    return codes;
  },
});

function hasCode(value: unknown, code: string): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const codes = (value as { [kCodes]?: unknown })[kCodes];
  return Array.isArray(codes) && codes.includes(code);
}

/**
 * Whether `value` is a meshlet error (from any installed copy), optionally of one code or of a
 * subclass of that code.
 *
 * @example
 * ```ts
 * if (isMeshletError(err, 'MESHLET_ERR_CONFIG')) console.error(err.message);
 * ```
 */
export function isMeshletError(value: unknown, code: string = MeshletError.code): value is MeshletError {
  return hasCode(value, code);
}
