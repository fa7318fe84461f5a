/**
 * `lmdb-txn`: a command-line tool for looking at, checking, backing up and
 * restoring lmdb-txn stores. bin/lmdb-txn.js calls main().
 *
 * Exit codes: 0 success; 1 a problem (missing or foreign directory, a path
 * with no value, check found errors, a load that wrote nothing); 2 a usage
 * mistake. Errors are one line on stderr, without a stack trace (set
 * LMDB_TXN_DEBUG=1 to see one).
 */
import { parseArgs } from 'node:util'
import { CliError, EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, Output, packageVersion, UsageError } from './common'
import type { Command } from './command'
import { stat } from './stat'
import { ls } from './ls'
import { get } from './get'
import { tree } from './tree'
import { check } from './check'
import { dump } from './dump'
import { load } from './load'
import { changes } from './changes'
import { serve } from './serve'
import { replicate } from './replicate'
import { backup } from './backup'

export const commands: Command[] = [stat, ls, get, tree, check, backup, dump, load, changes, serve, replicate]

function usage (): string {
  const width = Math.max(...commands.map((c) => c.usage.length))
  return [
    `lmdb-txn ${packageVersion()}: look at, check, back up and restore lmdb-txn stores`,
    '',
    'usage: lmdb-txn <command> [options] <args>',
    '',
    ...commands.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    '',
    '  lmdb-txn help <command>   options of one command',
    '  lmdb-txn --version',
    '',
    'Read commands open the store read-only and never create anything.',
    'Exit codes: 0 ok, 1 a problem (reported on stderr, or by check), 2 a usage mistake.'
  ].join('\n') + '\n'
}

function commandHelp (c: Command): string {
  return `usage: lmdb-txn ${c.usage}\n\n${c.summary}\n${c.details ? '\n' + c.details + '\n' : ''}`
}

async function run (argv: string[], out: Output): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h') {
    out.write(usage())
    return name === undefined ? EXIT_USAGE : EXIT_OK
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    out.write(packageVersion() + '\n')
    return EXIT_OK
  }
  if (name === 'help') {
    const c = commands.find((x) => x.name === rest[0])
    if (rest[0] !== undefined && c === undefined) throw new UsageError(`unknown command '${rest[0]}' (see lmdb-txn --help)`)
    out.write(c === undefined ? usage() : commandHelp(c))
    return EXIT_OK
  }
  const command = commands.find((c) => c.name === name)
  if (command === undefined) throw new UsageError(`unknown command '${name}' (see lmdb-txn --help)`)

  let parsed
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true
    })
  } catch (err) {
    throw new UsageError(`${name}: ${(err as Error).message.split('. ')[0]}`)
  }
  if (parsed.values.help === true) {
    out.write(commandHelp(command))
    return EXIT_OK
  }
  const args = parsed.positionals
  if (args.length < command.minArgs || args.length > command.maxArgs) {
    throw new UsageError(`usage: lmdb-txn ${command.usage}`)
  }
  return await command.run({ args, opts: parsed.values as Record<string, string | boolean | undefined>, out })
}

/** Runs the tool with `argv` (without node and the script) and sets process.exitCode. */
export async function main (argv: string[] = process.argv.slice(2)): Promise<void> {
  const out = new Output(process.stdout)
  let code: number
  try {
    code = await run(argv, out)
  } catch (err) {
    await out.flush().catch(() => {})
    if (err instanceof CliError) {
      process.stderr.write(`lmdb-txn: ${err.message}\n`)
      code = err.exitCode
    } else {
      const e = err as Error
      process.stderr.write(`lmdb-txn: ${e?.message ?? String(err)}\n`)
      if (process.env.LMDB_TXN_DEBUG) process.stderr.write(`${e?.stack ?? ''}\n`)
      code = EXIT_PROBLEM
    }
    process.exitCode = code
    return
  }
  await out.flush()
  process.exitCode = code ?? EXIT_OK
}

if (require.main === module) void main()
