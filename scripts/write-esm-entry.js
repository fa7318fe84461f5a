'use strict'
// Writes the ESM entries (dist/index.mjs + .d.mts, dist/sync/index.mjs +
// .d.mts): each re-exports its CommonJS build, so both entry points share
// one module instance (one addon load, one set of error classes for
// instanceof).
const fs = require('fs')
const path = require('path')

const dist = path.join(__dirname, '..', 'dist')
for (const entry of ['index', 'sync/index']) {
  const src = fs.readFileSync(path.join(dist, `${entry}.js`), 'utf8')
  const names = new Set()
  for (const m of src.matchAll(/exports\.([A-Za-z_$][\w$]*) = /g)) names.add(m[1])
  for (const m of src.matchAll(/Object\.defineProperty\(exports, "([A-Za-z_$][\w$]*)"/g)) names.add(m[1])
  names.delete('__esModule')
  const list = [...names].sort()
  fs.writeFileSync(path.join(dist, `${entry}.mjs`),
    "import cjs from './index.js'\n" +
    `export const { ${list.join(', ')} } = cjs\n` +
    'export default cjs\n')
  // The declarations mirror it: the named exports, and the default export
  // (the whole CommonJS module) that the .mjs also provides.
  fs.writeFileSync(path.join(dist, `${entry}.d.mts`),
    "import * as cjs from './index.js'\n" +
    "export * from './index.js'\n" +
    'export default cjs\n')
}
