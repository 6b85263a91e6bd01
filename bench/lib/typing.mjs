// What a typist sends: one update per keystroke, typed at the end of its own text.

/// `count` keystroke updates of client `client`, a newline every 40th. `Y` is the caller's
/// Yjs: the load generator has the bench's own copy, `held.mjs` the server's (two copies in
/// one process break Yjs' constructor checks).
export function typedUpdates(Y, client, count) {
  const doc = new Y.Doc()
  doc.clientID = client
  const text = doc.getText('t')
  const updates = []
  doc.on('update', (u) => updates.push(u))
  for (let i = 0; i < count; i++) text.insert(text.length, i % 40 === 39 ? '\n' : String.fromCharCode(97 + (i % 26)))
  doc.destroy()
  return updates
}
