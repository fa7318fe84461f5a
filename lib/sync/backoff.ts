/** Retry delays: exponential, with jitter, forever (never gives up). */
export interface BackoffOptions {
  /** First delay. Default 50 ms. */
  initialMs?: number
  /** Ceiling. Default 30,000 ms. */
  maxMs?: number
  /** Growth per failed attempt. Default 2. */
  factor?: number
  /** Fraction of each delay drawn at random (0..1). Default 0.5. */
  jitter?: number
}

export interface BackoffPolicy {
  /** Delay before retry number `attempt` (1 = first retry). */
  delay (attempt: number): number
}

export function exponentialBackoff (options: BackoffOptions = {}, random: () => number = Math.random): BackoffPolicy {
  const num = (name: keyof BackoffOptions, fallback: number, min: number, max: number): number => {
    const v = options[name]
    if (v === undefined) return fallback
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new RangeError(`backoff.${name} must be a number between ${min} and ${max}, got ${String(v)}`)
    return v
  }
  const initialMs = num('initialMs', 50, 0, 3_600_000)
  const maxMs = num('maxMs', 30_000, initialMs, 86_400_000)
  const factor = num('factor', 2, 1, 100)
  const jitter = num('jitter', 0.5, 0, 1)
  return {
    delay (attempt: number): number {
      const base = Math.min(maxMs, initialMs * Math.pow(factor, Math.max(0, attempt - 1)))
      return Math.round(base * (1 - jitter * random()))
    }
  }
}
