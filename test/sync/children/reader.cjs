'use strict'
/**
 * Reads a replica store in a loop, each pass in one snapshot, until SIGTERM,
 * then prints {passes, violations, lastSeen}. A pass checks the state is a
 * whole prefix of the primary's transactions: `last` = L, t/L/a and t/L/b
 * present and equal, t/<L+1> absent, every 10th pass all of t/0..L, and L
 * never goes back. argv: <root> <dir>
 */
const [root, dir] = process.argv.slice(2)
const lib = require(root)
let passes = 0
const violations = []
let lastSeen = -1
let stop = false
process.on('SIGTERM', () => { stop = true })

function pass (store) {
  const s = store.snapshot()
  try {
    const raw = s.readString('last')
    const L = raw === undefined ? -1 : Number(raw)
    if (L < lastSeen) violations.push(`last went back from ${lastSeen} to ${L}`)
    lastSeen = Math.max(lastSeen, L)
    if (L >= 0) {
      const a = s.readString(`t/${L}/a`); const b = s.readString(`t/${L}/b`)
      if (a === undefined || a !== b) violations.push(`partial transaction ${L}: a=${a} b=${b}`)
    }
    if (s.exists(`t/${L + 1}`)) violations.push(`t/${L + 1} visible while last=${L}`)
    if (passes % 10 === 0 && L >= 0) {
      for (let i = 0; i <= L; i++) {
        if (s.readString(`t/${i}/a`) === undefined || s.readString(`t/${i}/b`) === undefined) { violations.push(`t/${i} missing while last=${L}`); break }
      }
    }
  } finally { s.close() }
}

async function main () {
  const store = lib.open(dir, { readOnly: true })
  while (!stop) {
    pass(store)
    passes++
    await new Promise((r) => setImmediate(r))
  }
  store.close()
  process.stdout.write(JSON.stringify({ passes, violations: violations.slice(0, 10), lastSeen }) + '\n')
}
main().catch((e) => { process.stdout.write(JSON.stringify({ error: e.message }) + '\n'); process.exit(1) })
