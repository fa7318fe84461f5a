/** The shape every subcommand module exports. */
import type { ParseArgsConfig } from 'node:util'
import type { Output } from './common'

export interface Context {
  /** Positional arguments after the command name. */
  args: string[]
  /** Parsed options (booleans and strings). */
  opts: Record<string, string | boolean | undefined>
  /** Buffered stdout. */
  out: Output
}

export interface Command {
  name: string
  /** e.g. "ls <dir> [path]" */
  usage: string
  summary: string
  /** Further lines for `lmdb-txn help <command>`. */
  details: string
  options: NonNullable<ParseArgsConfig['options']>
  minArgs: number
  maxArgs: number
  /** Resolves with the exit code. */
  run (ctx: Context): Promise<number>
}

export const progressOption = {
  'no-progress': { type: 'boolean' as const }
}
