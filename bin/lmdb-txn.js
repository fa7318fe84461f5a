#!/usr/bin/env node
'use strict'
// The lmdb-txn command-line tool; the code is lib/cli (compiled to dist/cli).
require('../dist/cli/index.js').main()
