'use strict'
/**
 * Verifies many stores in one process (power-loss images).
 * argv: <package root> <jobs.json> <out.jsonl> <first index> <progress file>
 * jobs = [{ dir, maxSeq, acked, tools? }]; appends one JSON line per job, in order,
 * as soon as it is checked, and "<i> <stage>" lines to the progress file,
 * so a parent can tell which image — and which stage — crashed or hung it.
 */
const fs = require('node:fs')
const [root, jobsFile, out, first, progress] = process.argv.slice(2)
const { open } = require(root)
const { verifyStore } = require('../lib/verify.cjs')

const jobs = JSON.parse(fs.readFileSync(jobsFile, 'utf8'))
for (let i = Number(first); i < jobs.length; i++) {
  const job = jobs[i]
  let line
  try {
    const onStage = (stage) => fs.appendFileSync(progress, `${i} ${stage}\n`)
    const r = verifyStore(job.dir, { open, maxSeq: job.maxSeq, acked: job.acked, onStage, tools: job.tools !== false, rawInProcess: root })
    line = { i, problems: r.problems.slice(0, 8), problemCount: r.problems.length, complete: r.complete, missingAcked: r.missingAcked, partial: r.partial, libraryOpened: r.libraryOpened === true, libraryError: r.libraryError }
  } catch (err) {
    line = { i, problems: [`verifier threw: ${err && err.stack}`], problemCount: 1, complete: [], missingAcked: job.acked, partial: [] }
  }
  fs.appendFileSync(out, JSON.stringify(line) + '\n')
}
