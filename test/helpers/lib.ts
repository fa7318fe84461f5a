// Tests use the built package (dist/), exactly what users load; `npm test`
// rebuilds it first (pretest). One module instance keeps instanceof checks
// and the addon's error factory consistent.
export * from '../../dist/index.js'
