/**
 * A progress bar for long runs. It is drawn only when stdout is a terminal
 * (never into pipes, files or CI logs), only once a run has lasted a while
 * (LMDB_TXN_PROGRESS_DELAY_MS, default 500 ms), at most ~10 times a second,
 * and it is erased before any other output and at the end.
 */
import * as fs from 'node:fs'

const REDRAW_MS = 100

export class Progress {
  readonly #label: string
  readonly #enabled: boolean
  readonly #start = Date.now()
  readonly #delay: number
  #total: number | undefined
  #done = 0
  #lastDraw = 0
  #shown = false

  constructor (label: string, total: number | undefined, opts: { enabled: boolean }) {
    this.#label = label
    this.#total = total
    this.#enabled = opts.enabled && process.stdout.isTTY === true
    const env = Number(process.env.LMDB_TXN_PROGRESS_DELAY_MS)
    this.#delay = Number.isFinite(env) && env >= 0 && process.env.LMDB_TXN_PROGRESS_DELAY_MS !== '' ? env : 500
  }

  set total (n: number | undefined) { this.#total = n }

  /** Adds `n` units of work; cheap to call per entry. */
  tick (n = 1): void {
    this.#done += n
    if (!this.#enabled) return
    const now = Date.now()
    if (now - this.#lastDraw < REDRAW_MS || now - this.#start < this.#delay) return
    this.#lastDraw = now
    this.#draw(now)
  }

  /** Erases the bar (before printing a line, and when the run ends). */
  clear (): void {
    if (!this.#shown) return
    fs.writeSync(1, '\r\x1b[2K')
    this.#shown = false
  }

  #draw (now: number): void {
    const cols = Math.max(40, (process.stdout.columns ?? 80) - 1)
    const secs = ((now - this.#start) / 1000).toFixed(1) + 's'
    const count = this.#done.toLocaleString('en-US')
    let line: string
    if (this.#total !== undefined && this.#total > 0) {
      const frac = Math.min(1, this.#done / this.#total)
      const tail = ` ${String(Math.floor(frac * 100)).padStart(3)}% ${count}/${this.#total.toLocaleString('en-US')} ${secs}`
      const width = Math.max(10, Math.min(40, cols - this.#label.length - tail.length - 4))
      const full = Math.round(frac * width)
      line = `${this.#label} [${'#'.repeat(full)}${'-'.repeat(width - full)}]${tail}`
    } else {
      line = `${this.#label} ${count} ${secs}`
    }
    fs.writeSync(1, '\r\x1b[2K' + line.slice(0, cols))
    this.#shown = true
  }
}
