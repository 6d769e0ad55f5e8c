// What the CLI offers to programs: its demo, in-process (examples/gateway runs it).
export { apiKey, startDemo, tour, type Demo } from './demo/demo.js';
export { servedBy } from './filters.js';
