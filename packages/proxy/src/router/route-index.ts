// An index over a virtual host's routes that keeps Envoy's first-match-in-order semantics while
// skipping the routes that cannot match. Every route's path matcher implies a literal prefix of
// the path (the prefix itself, the exact path, a separated prefix, a regex's literal start); the
// routes are put in a character trie by that prefix (one trie for case-sensitive routes, one for
// lower-cased ones). Walking the request path down the tries visits exactly the routes whose
// literal prefix the path starts with: the candidates. They are tried in config order.
//
//   routes: 0 /api/   1 /api/v2/   2 /   3 /static (case-insensitive)   4 ^/u/[0-9]+  5 .*
//   sensitive trie:  (root: 5) ─/─▶ (2) ─a─p─i─/─▶ (0) ─v─2─/─▶ (1)
//                                   └─u─/─▶ (4)
//   insensitive trie: ─/─s─t─a─t─i─c─▶ (3)
//   path /api/v2/x → candidates 5, 2, 0, 1 → tried as 0, 1, 2, 5
import type { MatchState } from './path-match.js';

class TrieNode {
  /** Children by UTF-16 code unit. */
  next: Map<number, TrieNode> | null;
  /** Routes whose literal prefix ends here, ascending. */
  readonly routes: number[];

  constructor() {
    this.next = null;
    this.routes = [];
  }

  child(code: number): TrieNode {
    this.next ??= new Map();
    let node = this.next.get(code);
    if (node === undefined) {
      node = new TrieNode();
      this.next.set(code, node);
    }
    return node;
  }
}

/** What a route contributes to the index: its literal prefix and whether it is compared lower-cased. */
export interface IndexKey {
  readonly literal: string;
  readonly lowerCase: boolean;
}

/** Most candidates the index sorts itself; beyond it `candidates` gives up and the caller scans all routes. */
const MAX_CANDIDATES = 64;

/** The index of one virtual host's routes. */
export class RouteIndex {
  private readonly sensitive: TrieNode;
  private readonly insensitive: TrieNode | null;
  /** Candidates of the last `candidates` call, ascending (reused: match never re-enters). */
  readonly scratch: Int32Array;

  constructor(keys: readonly IndexKey[]) {
    this.sensitive = new TrieNode();
    let insensitive: TrieNode | null = null;
    keys.forEach((key, i) => {
      let node = key.lowerCase ? (insensitive ??= new TrieNode()) : this.sensitive;
      for (let c = 0; c < key.literal.length; c++) node = node.child(key.literal.charCodeAt(c));
      node.routes.push(i);
    });
    this.insensitive = insensitive;
    this.scratch = new Int32Array(MAX_CANDIDATES);
  }

  /**
   * Fills `scratch` with the routes whose literal prefix `state`'s path starts with, in config
   * order, and returns how many; -1 when there are too many to sort here (scan every route).
   */
  candidates(state: MatchState): number {
    let n = this.collect(this.sensitive, state.request.path, 0);
    if (n >= 0 && this.insensitive !== null) n = this.collect(this.insensitive, state.lowerPath(), n);
    return n;
  }

  private collect(root: TrieNode, path: string, count: number): number {
    let n = count;
    let node: TrieNode | undefined = root;
    let i = 0;
    for (;;) {
      const routes: readonly number[] = node.routes;
      if (n + routes.length > MAX_CANDIDATES) return -1;
      // Insertion into the sorted scratch: candidates are few, and come nearly sorted.
      for (const route of routes) {
        let j = n++;
        while (j > 0 && (this.scratch[j - 1] as number) > route) {
          this.scratch[j] = this.scratch[j - 1] as number;
          j--;
        }
        this.scratch[j] = route;
      }
      if (i === path.length || node.next === null) return n;
      node = node.next.get(path.charCodeAt(i++));
      if (node === undefined) return n;
    }
  }
}
