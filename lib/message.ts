/**
 * writeMessage (SPEC §5): the whole message is validated and flattened into
 * a plan first, so bad input throws before any transaction is touched; the
 * plan is then written group → fields (sub-groups recursively) → links.
 */
import { types } from 'node:util'
import { addon, type NativeTxn } from './native'
import { describe } from './options'
import { InvalidPathError } from './errors'

export type FieldValue = Uint8Array | string | Fields
export interface Fields { [name: string]: FieldValue }

export interface Message {
  /** The group's path. */
  path: string
  /** Field name → value; a nested plain object becomes a sub-group. */
  fields: Fields
  /** Links made after the fields: `path` becomes a link to `target`. */
  links?: Array<{ target: string, path: string }>
}

export type PlanStep =
  | { kind: 'group', path: string }
  | { kind: 'write', path: string, value: Uint8Array | string }
  | { kind: 'link', target: string, path: string }

export interface Plan {
  steps: PlanStep[]
  /** Key + value bytes, counted as the native limits count them. */
  bytes: number
}

export function isPlainObject (value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

export function isValue (value: unknown): value is Uint8Array | string {
  return typeof value === 'string' || types.isUint8Array(value)
}

export function valueBytes (value: Uint8Array | string): number {
  return typeof value === 'string' ? Buffer.byteLength(value) : value.byteLength
}

function checkSegment (name: string, where: string): void {
  let reason: string | undefined
  if (name === '') reason = 'is empty'
  else if (name === '.' || name === '..') reason = `is '${name}'`
  else if (name.includes('/')) reason = "contains '/'"
  else if (name.includes('\0')) reason = 'contains a NUL byte'
  if (reason !== undefined) {
    throw new InvalidPathError(`field name ${JSON.stringify(name)} at ${where} ${reason}; a field name is one path segment`)
  }
}

export function planMessage (message: unknown): Plan {
  if (!isPlainObject(message)) throw new TypeError(`message must be an object, got ${describe(message)}`)
  // Each property read once: a getter cannot swap what was checked.
  const { path: rootPath, fields: rootFields, links } = message
  const root = addon.normalizePath(rootPath, 'message.path')
  if (!isPlainObject(rootFields)) {
    throw new TypeError(`message.fields must be a plain object, got ${describe(rootFields)}`)
  }
  const steps: PlanStep[] = []
  let bytes = 0
  const addGroup = (path: string, fields: Record<string, unknown>, where: string): void => {
    steps.push({ kind: 'group', path })
    bytes += Buffer.byteLength(path) + 1
    for (const name of Object.keys(fields)) {
      const at = `${where}.${name}`
      checkSegment(name, where)
      const child = addon.normalizePath(`${path}/${name}`, at)
      const value = fields[name]
      if (isValue(value)) {
        steps.push({ kind: 'write', path: child, value })
        bytes += Buffer.byteLength(child) + 1 + valueBytes(value)
      } else if (isPlainObject(value)) {
        addGroup(child, value, at)
      } else {
        throw new TypeError(`${at} must be a Uint8Array, a string or a plain object of fields, got ${describe(value)}`)
      }
    }
  }
  addGroup(root, rootFields, 'message.fields')
  if (links !== undefined) {
    if (!Array.isArray(links)) throw new TypeError(`message.links must be an array, got ${describe(links)}`)
    for (let i = 0; i < links.length; i++) {
      const link: unknown = links[i]
      if (!isPlainObject(link)) throw new TypeError(`message.links[${i}] must be { target, path }, got ${describe(link)}`)
      const target = addon.normalizePath(link.target, `message.links[${i}].target`)
      const path = addon.normalizePath(link.path, `message.links[${i}].path`)
      steps.push({ kind: 'link', target, path })
      bytes += Buffer.byteLength(path) + 1 + Buffer.byteLength(target)
    }
  }
  return { steps, bytes }
}

export function applyMessage (txn: NativeTxn, plan: Plan): void {
  for (const step of plan.steps) {
    if (step.kind === 'write') txn.write(step.path, step.value)
    else if (step.kind === 'group') txn.makeGroup(step.path)
    else txn.makeLink(step.target, step.path)
  }
}
