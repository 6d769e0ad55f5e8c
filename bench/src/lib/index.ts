// The suite's shared process helpers, for scenarios: `import { ... } from '../lib/index.ts'`.
export { type CpuPlacement, cpuPlacement, pinned, pinProcesses } from './cpu.ts';
export {
  httpProxyBootstrap,
  meshletBin,
  startMeshlet,
  startNodeScript,
  type MeshletSpec,
} from './meshlet.ts';
export { type NginxSpec, type NginxTarget, startNginx, startUpstream, UPSTREAM_BODY } from './nginx.ts';
export {
  freePort,
  groupMembers,
  liveTargets,
  processTree,
  rssKiBOf,
  startTarget,
  stopAll,
  type Target,
  type TargetSpec,
  treeRssKiB,
  waitForPort,
} from './process.ts';
export { median, medianRun, quantile } from './stats.ts';
export { fmt, markdownTable, ratio, renderTable } from './table.ts';
export { findTool, inCi, installHint, makeNeed, toolPath, toolVersion } from './tools.ts';
export { assertLoopback, parseDuration, parseWrk, runWrk, type WrkOptions, type WrkResult } from './wrk.ts';
