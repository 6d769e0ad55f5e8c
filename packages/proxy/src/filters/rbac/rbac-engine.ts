// RBAC policies compiled to a tree of matchers. A policy matches when one of its permissions
// (what the request does) and one of its principals (who sends it) match; the engine reports the
// first matching policy in name order (Envoy keeps policies in a sorted map).
import type { HttpContext } from '../../types.js';
import type { ConfigReader } from '../config-reader.js';
import { CompiledHeaderMatcher } from '../../matchers/header-matcher.js';
import { type CompiledStringMatcher, compileStringMatcher } from '../../matchers/string-matcher.js';
import { type CidrRange, compileCidr, parseIp } from './cidr.js';

/** One compiled permission or principal. */
export interface RbacMatcher {
  matches(ctx: HttpContext): boolean;
}

class AnyMatcher implements RbacMatcher {
  matches(): boolean {
    return true;
  }
}

const ANY = new AnyMatcher();

class AndMatcher implements RbacMatcher {
  readonly rules: readonly RbacMatcher[];
  constructor(rules: readonly RbacMatcher[]) {
    this.rules = rules;
  }
  matches(ctx: HttpContext): boolean {
    for (const rule of this.rules) if (!rule.matches(ctx)) return false;
    return true;
  }
}

class OrMatcher implements RbacMatcher {
  readonly rules: readonly RbacMatcher[];
  constructor(rules: readonly RbacMatcher[]) {
    this.rules = rules;
  }
  matches(ctx: HttpContext): boolean {
    for (const rule of this.rules) if (rule.matches(ctx)) return true;
    return false;
  }
}

class NotMatcher implements RbacMatcher {
  readonly rule: RbacMatcher;
  constructor(rule: RbacMatcher) {
    this.rule = rule;
  }
  matches(ctx: HttpContext): boolean {
    return !this.rule.matches(ctx);
  }
}

class HeaderRule implements RbacMatcher {
  readonly matcher: CompiledHeaderMatcher;
  constructor(matcher: CompiledHeaderMatcher) {
    this.matcher = matcher;
  }
  matches(ctx: HttpContext): boolean {
    return this.matcher.matches(ctx.request);
  }
}

let lastPath = '';
let lastPathOnly = '';

/**
 * The path without its query and fragment, as Envoy's `url_path` sees it. The last answer is
 * kept: the url_path rules of one request's policies slice its path once.
 */
export function pathOnly(path: string): string {
  if (path === lastPath) return lastPathOnly;
  let end = path.length;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) {
      end = i;
      break;
    }
  }
  lastPath = path;
  lastPathOnly = end === path.length ? path : path.slice(0, end);
  return lastPathOnly;
}

class UrlPathRule implements RbacMatcher {
  readonly matcher: CompiledStringMatcher;
  constructor(matcher: CompiledStringMatcher) {
    this.matcher = matcher;
  }
  matches(ctx: HttpContext): boolean {
    return this.matcher.match(pathOnly(ctx.request.path));
  }
}

class ServerNameRule implements RbacMatcher {
  readonly matcher: CompiledStringMatcher;
  constructor(matcher: CompiledStringMatcher) {
    this.matcher = matcher;
  }
  matches(ctx: HttpContext): boolean {
    return this.matcher.match(ctx.connection.serverName ?? '');
  }
}

class RemoteIpRule implements RbacMatcher {
  readonly range: CidrRange;
  constructor(range: CidrRange) {
    this.range = range;
  }
  matches(ctx: HttpContext): boolean {
    return this.range.contains(parseIp(ctx.connection.remoteAddress));
  }
}

/** `remote_ip`: the client address the connection manager trusts (x-forwarded-for's trusted hops), else the peer. */
class TrustedClientIpRule implements RbacMatcher {
  readonly range: CidrRange;
  constructor(range: CidrRange) {
    this.range = range;
  }
  matches(ctx: HttpContext): boolean {
    return this.range.contains(parseIp(ctx.info.downstreamRemoteAddress ?? ctx.connection.remoteAddress));
  }
}

class LocalIpRule implements RbacMatcher {
  readonly range: CidrRange;
  constructor(range: CidrRange) {
    this.range = range;
  }
  matches(ctx: HttpContext): boolean {
    return this.range.contains(parseIp(ctx.connection.localAddress));
  }
}

class PortRangeRule implements RbacMatcher {
  /** Inclusive. */
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
  constructor(start: number, end: number) {
    this.start = start;
    this.end = end;
  }
  matches(ctx: HttpContext): boolean {
    const port = ctx.connection.localPort;
    return port >= this.start && port < this.end;
  }
}

class AuthenticatedRule implements RbacMatcher {
  matches(ctx: HttpContext): boolean {
    // Any TLS connection, as Envoy's `authenticated` without a principal name.
    return ctx.connection.tls;
  }
}

/** `authenticated.principalName`: the peer certificate's SANs are not in ConnectionInfo yet. */
class NeverMatcher implements RbacMatcher {
  matches(): boolean {
    return false;
  }
}

/** Compiles RBAC permissions and principals, naming fields in errors. */
class RbacCompiler {
  readonly reader: ConfigReader;
  constructor(reader: ConfigReader) {
    this.reader = reader;
  }

  #one(value: unknown, field: string, what: string): [string, unknown] {
    const o = this.reader.object(value, field);
    const keys = Object.keys(o).filter((k) => o[k] !== undefined);
    if (keys.length !== 1)
      throw this.reader.error(
        field,
        `${what} needs exactly one rule, got ${keys.length === 0 ? 'none' : keys.join(', ')}`,
      );
    const key = keys[0] as string;
    return [key, o[key]];
  }

  #list(value: unknown, field: string, compile: (v: unknown, f: string) => RbacMatcher): RbacMatcher[] {
    const list = this.reader.list(value, field);
    if (list.length === 0) throw this.reader.error(field, 'must not be empty');
    return list.map((v, i) => compile(v, `${field}[${i}]`));
  }

  #cidr(value: unknown, field: string): CidrRange {
    const o = this.reader.object(value, field);
    const prefix = this.reader.string(o.addressPrefix, `${field}.addressPrefix`);
    const length = this.reader.integer(o.prefixLen ?? 0, `${field}.prefixLen`, 0, 128);
    const range = compileCidr(prefix, length);
    if (typeof range === 'string') throw this.reader.error(field, range);
    return range;
  }

  /** A policy's permissions: any of them. */
  anyPermission(value: unknown, field: string): RbacMatcher {
    return unwrap(new OrMatcher(this.#list(value, field, this.permission)));
  }

  /** A policy's principals: any of them. */
  anyPrincipal(value: unknown, field: string): RbacMatcher {
    return unwrap(new OrMatcher(this.#list(value, field, this.principal)));
  }

  permission = (value: unknown, field: string): RbacMatcher => {
    const [key, v] = this.#one(value, field, 'a permission');
    const here = `${field}.${key}`;
    switch (key) {
      case 'any':
        return ANY;
      case 'header':
        return new HeaderRule(new CompiledHeaderMatcher(this.reader, v, here));
      case 'urlPath':
        return new UrlPathRule(compileStringMatcher(this.reader, v, here));
      case 'destinationIp':
        return new LocalIpRule(this.#cidr(v, here));
      case 'destinationPort': {
        const port = this.reader.integer(v, here, 0, 65535);
        return new PortRangeRule(port, port + 1);
      }
      case 'destinationPortRange': {
        const r = this.reader.object(v, here);
        const start = this.reader.integer(r.start, `${here}.start`, 0, 65536);
        const end = this.reader.integer(r.end, `${here}.end`, 0, 65536);
        if (end <= start) throw this.reader.error(here, `[${start}, ${end}) is empty`);
        return new PortRangeRule(start, end);
      }
      case 'requestedServerName':
        return new ServerNameRule(compileStringMatcher(this.reader, v, here));
      case 'andRules':
        return new AndMatcher(this.#list(v, here, this.permission));
      case 'orRules':
        return new OrMatcher(this.#list(v, here, this.permission));
      case 'notRule':
        return new NotMatcher(this.permission(v, here));
      default:
        throw this.reader.error(here, 'is not a permission rule meshlet supports');
    }
  };

  principal = (value: unknown, field: string): RbacMatcher => {
    const [key, v] = this.#one(value, field, 'a principal');
    const here = `${field}.${key}`;
    switch (key) {
      case 'any':
        return ANY;
      case 'authenticated': {
        const a = this.reader.object(v, here);
        if (a.principalName === undefined) return new AuthenticatedRule();
        compileStringMatcher(this.reader, a.principalName, `${here}.principalName`);
        return new NeverMatcher();
      }
      // The downstream peer (no PROXY protocol here, so `sourceIp` is the peer too).
      case 'sourceIp':
      case 'directRemoteIp':
        return new RemoteIpRule(this.#cidr(v, here));
      case 'remoteIp':
        return new TrustedClientIpRule(this.#cidr(v, here));
      case 'header':
        return new HeaderRule(new CompiledHeaderMatcher(this.reader, v, here));
      case 'urlPath':
        return new UrlPathRule(compileStringMatcher(this.reader, v, here));
      case 'andIds':
        return new AndMatcher(this.#list(v, here, this.principal));
      case 'orIds':
        return new OrMatcher(this.#list(v, here, this.principal));
      case 'notId':
        return new NotMatcher(this.principal(v, here));
      default:
        throw this.reader.error(here, 'is not a principal meshlet supports');
    }
  };
}

/** One named policy. */
export class RbacPolicy {
  readonly name: string;
  readonly permissions: RbacMatcher;
  readonly principals: RbacMatcher;
  constructor(name: string, permissions: RbacMatcher, principals: RbacMatcher) {
    this.name = name;
    this.permissions = permissions;
    this.principals = principals;
  }
}

/** A compiled set of RBAC rules: an action and its policies. */
export class RbacEngine {
  readonly action: 'ALLOW' | 'DENY' | 'LOG';
  readonly policies: readonly RbacPolicy[];

  constructor(reader: ConfigReader, value: unknown, field: string) {
    const o = reader.object(value, field);
    const action = reader.string(o.action, `${field}.action`, 'ALLOW');
    if (action !== 'ALLOW' && action !== 'DENY' && action !== 'LOG') {
      throw reader.error(`${field}.action`, `must be ALLOW, DENY or LOG, got ${JSON.stringify(action)}`);
    }
    this.action = action;
    const policies = reader.object(o.policies ?? {}, `${field}.policies`);
    const compiler = new RbacCompiler(reader);
    this.policies = Object.keys(policies)
      .sort()
      .map((name) => {
        const here = `${field}.policies[${JSON.stringify(name)}]`;
        const p = reader.object(policies[name], here);
        return new RbacPolicy(
          name,
          compiler.anyPermission(p.permissions, `${here}.permissions`),
          compiler.anyPrincipal(p.principals, `${here}.principals`),
        );
      });
  }

  /** The name of the first policy (in name order) that matches, or `null`. */
  firstMatch(ctx: HttpContext): string | null {
    const policies = this.policies;
    for (const p of policies) {
      if (p.permissions.matches(ctx) && p.principals.matches(ctx)) return p.name;
    }
    return null;
  }

  /** Whether the action lets a request through, given the policy it matched. */
  allows(matched: string | null): boolean {
    if (this.action === 'ALLOW') return matched !== null;
    if (this.action === 'DENY') return matched === null;
    return true;
  }
}

/** A single-rule `or` is that rule. */
function unwrap(m: RbacMatcher): RbacMatcher {
  return m instanceof OrMatcher && m.rules.length === 1 ? (m.rules[0] as RbacMatcher) : m;
}
