'use strict'
// Thin wrappers over tinybench. Inputs are consumed in order: the first
// `warmup` calls warm up, the next `iterations` calls are measured.

let tinybench
async function loadTinybench () {
  tinybench ??= await import('tinybench')
  return tinybench
}

function summary (task, n, wallMs, concurrent) {
  const r = task.result
  if (r.state === 'errored') throw r.error instanceof AggregateError && r.error.errors.length ? r.error.errors[0] : r.error
  if (!r.latency) throw new Error(`tinybench task ended in state ${r.state}`)
  const lat = r.latency
  // Sequential: throughput from the measured time of the calls themselves.
  // Concurrent: calls overlap, so throughput is calls per wall-clock second.
  const busyMs = concurrent ? wallMs : r.totalTime
  return {
    n,
    wallMs,
    opsPerSec: n / (busyMs / 1000),
    meanMs: lat.mean,
    p50Ms: lat.p50,
    p99Ms: lat.p99,
    maxMs: lat.max
  }
}

// fn(i) is called with a running index (warm-up first, then measured calls).
// onMeasured(), if given, is called between the warm-up and the measured
// calls (e.g. to start a histogram that must not see the warm-up).
async function measure ({ fn, iterations, warmup = 0, async = false, concurrency = 0, onMeasured }) {
  const { Bench } = await loadTinybench()
  let i = 0
  const concurrent = concurrency > 1
  const bench = new Bench({
    iterations,
    time: 0,
    warmup: warmup > 0,
    warmupIterations: warmup,
    warmupTime: 0,
    throws: true,
    ...(concurrent ? { concurrency: 'task', threshold: concurrency } : { subtractTimerOverhead: true })
  })
  bench.add('task', async ? () => fn(i++) : () => { fn(i++) }, { async })
  const task = bench.tasks[0]
  if (warmup > 0) {
    if (async || concurrent) await task.warmup(); else task.warmupSync()
  }
  onMeasured?.()
  const t0 = performance.now()
  if (async || concurrent) await task.run(); else task.runSync()
  const wallMs = performance.now() - t0
  return summary(task, iterations, wallMs, concurrent)
}

// The same for a synchronous fn, callable inside a write transaction's
// callback (tinybench must have been loaded first with loadTinybench()).
function measureSync ({ fn, iterations, warmup = 0 }) {
  if (!tinybench) throw new Error('call loadTinybench() first')
  const bench = new tinybench.Bench({
    iterations, time: 0, warmup: warmup > 0, warmupIterations: warmup, warmupTime: 0, throws: true, subtractTimerOverhead: true
  })
  let i = 0
  bench.add('task', () => { fn(i++) }, { async: false })
  const task = bench.tasks[0]
  if (warmup > 0) task.warmupSync()
  const t0 = performance.now()
  task.runSync()
  return summary(task, iterations, performance.now() - t0, false)
}

// A tight loop without per-call timers, for microsecond operations:
// ops/s from the wall time of the whole loop.
function timeLoop (n, fn) {
  const t0 = performance.now()
  for (let i = 0; i < n; i++) fn(i)
  const wallMs = performance.now() - t0
  return { n, wallMs, opsPerSec: n / (wallMs / 1000) }
}

module.exports = { measure, measureSync, timeLoop, loadTinybench }
