// Initial content for new rooms. The seed is one Yjs update built deterministically (fixed
// client id 0, same text → same bytes), so applying it twice is a no-op: when joins or
// instances race to create a room, each may store the seed, and the text still appears once.
import { readFileSync } from 'node:fs'
import * as Y from 'yjs'
import { ConfigError } from '../ops/config.js'

/// The update that puts `text` into the shared text `field` of an empty document.
export function seedUpdate(text: string, field: string): Uint8Array {
  const doc = new Y.Doc()
  doc.clientID = 0
  doc.getText(field).insert(0, text)
  const update = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return update
}

/// `seedUpdate` of a UTF-8 file, with an error that names the option when it cannot be read.
export function seedFromFile(path: string, field: string): Uint8Array {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new ConfigError(`--initial-content: cannot use ${JSON.stringify(path)}: ${(error as Error).message}`)
  }
  return seedUpdate(text, field)
}
