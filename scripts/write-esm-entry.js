'use strict'
// Writes dist/index.mjs and dist/index.d.mts: the ESM entry re-exports the
// CommonJS build, so both entry points share one module instance (one addon
// load, one set of error classes for instanceof).
const fs = require('fs')
const path = require('path')

const dist = path.join(__dirname, '..', 'dist')
const src = fs.readFileSync(path.join(dist, 'index.js'), 'utf8')
const names = new Set()
for (const m of src.matchAll(/exports\.([A-Za-z_$][\w$]*) = /g)) names.add(m[1])
for (const m of src.matchAll(/Object\.defineProperty\(exports, "([A-Za-z_$][\w$]*)"/g)) names.add(m[1])
names.delete('__esModule')
const list = [...names].sort()
fs.writeFileSync(path.join(dist, 'index.mjs'),
  "import cjs from './index.js'\n" +
  `export const { ${list.join(', ')} } = cjs\n` +
  'export default cjs\n')
// The declarations mirror it: the named exports, and the default export
// (the whole CommonJS module) that index.mjs also provides.
fs.writeFileSync(path.join(dist, 'index.d.mts'),
  "import * as cjs from './index.js'\n" +
  "export * from './index.js'\n" +
  'export default cjs\n')
