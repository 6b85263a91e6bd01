// A PostgreSQL database of a test's own on the machine's server (trust auth), dropped after:
// tests never share tables, and CI runs on the same server.
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll } from 'vitest'

/// A PostgreSQL database of our own; `drop()` removes it.
export async function createDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `concord_test_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  return {
    name,
    url: `postgres://postgres@127.0.0.1:5432/${name}`,
    async drop() {
      const a = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' })
      await a.connect()
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await a.end()
    },
  }
}

/// A database for the calling test file: created before its tests, dropped after them. Call
/// it at the top level; read `url` inside the tests.
export function databaseForFile(): { readonly url: string } {
  const held = { url: '' }
  let drop = async (): Promise<void> => undefined
  beforeAll(async () => {
    const db = await createDatabase()
    held.url = db.url
    drop = db.drop
  })
  afterAll(() => drop())
  return held
}
