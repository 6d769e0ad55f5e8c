#!/usr/bin/env node
// The `meshlet` command: a committed shim (so installs can link it before the build) that runs
// the built CLI.
import '../dist/cli/main.js';
