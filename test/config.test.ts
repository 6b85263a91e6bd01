// The options table: defaults, environment, flags, and a clear error naming the option.
import { describe, expect, test } from 'vitest'
import { ConfigError, defaultConfig, formatOptions, optionTable, resolveConfig } from '../server/ops/config.js'

const specs = Object.entries(optionTable)

describe('resolveConfig', () => {
  test('no flags and no environment give the defaults', () => {
    const config = resolveConfig([], {})
    expect(config).toEqual(defaultConfig())
    expect(config).toMatchObject({ host: '127.0.0.1', port: 1234, storage: 'sqlite:./data/concord.db', keepaliveMs: 15_000 })
  })

  test('every option has a CONCORD_* variable named after its flag', () => {
    for (const [, s] of specs) expect(s.env).toBe('CONCORD_' + s.flag.toUpperCase().replace(/-/g, '_'))
  })

  test('environment variables set options', () => {
    const config = resolveConfig([], {
      CONCORD_HOST: '0.0.0.0', CONCORD_PORT: '4321', CONCORD_STORAGE: 'sqlite:/tmp/x.db',
      CONCORD_MAX_MESSAGE_BYTES: '2048', CONCORD_EDITOR: 'off', CONCORD_LOG_LEVEL: 'warn', UNRELATED: 'x',
    })
    expect(config).toMatchObject({
      host: '0.0.0.0', port: 4321, storage: 'sqlite:/tmp/x.db', maxMessageBytes: 2048, editor: false, logLevel: 'warn',
    })
  })

  test('flags set options in both spellings and win over the environment', () => {
    const config = resolveConfig(
      ['--port', '0', '--host=::1', '--storage', 'postgres://postgres@127.0.0.1/test', '--keepalive-ms=250'],
      { CONCORD_PORT: '9999', CONCORD_HOST: '10.0.0.1' },
    )
    expect(config).toMatchObject({ port: 0, host: '::1', storage: 'postgres://postgres@127.0.0.1/test', keepaliveMs: 250 })
  })

  test('a boolean flag without a value means true; an explicit value is parsed', () => {
    expect(resolveConfig(['--editor'], { CONCORD_EDITOR: 'false' }).editor).toBe(true)
    expect(resolveConfig(['--editor', '--port', '1'], {}).editor).toBe(true)
    expect(resolveConfig(['--editor=no'], {}).editor).toBe(false)
    expect(resolveConfig(['--editor', 'false'], {}).editor).toBe(false)
  })

  test('an empty optional value means unset', () => {
    expect(resolveConfig(['--public-dir='], {}).publicDir).toBeNull()
    expect(resolveConfig(['--public-dir', '/srv/www'], {}).publicDir).toBe('/srv/www')
  })

  test.each([
    [['--port', '65536'], {}, /^--port: expected an integer from 0 to 65535, got "65536"$/],
    [['--port', '12ab'], {}, /^--port: expected an integer/],
    [['--port', '-1'], {}, /^--port: expected an integer/],
    [['--port', '1.5'], {}, /^--port: expected an integer/],
    [[], { CONCORD_PORT: 'abc' }, /^CONCORD_PORT: expected an integer from 0 to 65535, got "abc"$/],
    [['--max-message-bytes', '10'], {}, /^--max-message-bytes: expected an integer from 1024/],
    [['--storage', 'mysql://x'], {}, /^--storage: expected memory, sqlite:PATH or postgres/],
    [[], { CONCORD_STORAGE: 'sqlite:' }, /^CONCORD_STORAGE: expected memory/],
    [['--log-level', 'loud'], {}, /^--log-level: expected one of debug, info, warn, error, silent, got "loud"$/],
    [['--editor=maybe'], {}, /^--editor: expected true or false, got "maybe"$/],
    [['--host', ''], {}, /^--host: must not be empty$/],
    [['--port'], {}, /^--port: missing value$/],
    [['--colour', 'red'], {}, /^unknown option --colour \(see --help\)$/],
    [['serve'], {}, /^unexpected argument "serve" \(see --help\)$/],
    [['-p', '1'], {}, /^unexpected argument "-p"/],
  ] as Array<[string[], NodeJS.ProcessEnv, RegExp]>)('%j %j is refused', (argv, env, message) => {
    let error: unknown
    try { resolveConfig(argv, env) } catch (e) { error = e }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as Error).message).toMatch(message)
  })
})

describe('formatOptions', () => {
  test('the plain table lists every flag, variable, default and description', () => {
    const text = formatOptions(false)
    for (const [, s] of specs) {
      expect(text).toContain(`--${s.flag}`)
      expect(text).toContain(s.env)
      expect(text).toContain(s.description)
      expect(text).toContain(`default ${s.shownDefault ?? String(s.default)}`)
    }
  })

  test('the markdown table has a header and one row per option', () => {
    const lines = formatOptions(true).split('\n')
    expect(lines[0]).toBe('| flag | environment | default | meaning |')
    expect(lines).toHaveLength(2 + specs.length)
    for (const [i, [, s]] of specs.entries()) {
      expect(lines[2 + i]).toMatch(new RegExp(`^\\| \`--${s.flag}\` \\| \`${s.env}\` \\| `))
    }
  })
})
