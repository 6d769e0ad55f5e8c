#!/usr/bin/env node
// The `meshlet` executable (see cli.ts).
import { main } from './cli.js';

await main(process.argv.slice(2));
