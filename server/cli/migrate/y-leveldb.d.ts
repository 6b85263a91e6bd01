// Types of the parts of y-leveldb that Concord uses. y-leveldb ships a .d.ts, but its package
// "exports" do not point at it, so TypeScript (NodeNext) cannot find it by itself.
declare module 'y-leveldb' {
  /// A y-leveldb key: ['v1', doc, 'update', clock], ['v1', doc, 'meta', key] or ['v1_sv', doc].
  export type DocKey = Array<string | number>
  /// A LevelDB opened with `keyEncoding` (level 8, which y-leveldb 0.2 is built on).
  type Db = import('level').Level<DocKey, Uint8Array>

  /// y-leveldb's key encoding (lib0 var-strings and big-endian uint32s), in level's legacy encoding form.
  export const keyEncoding: {
    buffer: boolean
    type: string
    encode(arr: DocKey): Buffer
    decode(buf: Uint8Array): DocKey
  }
  /// The state-vector key of every document, ['v1_sv', name]: one per stored document.
  export function getAllDocsKeys(db: Db): Promise<DocKey[]>
  /// A document's stored updates, oldest first.
  export function getLevelUpdates(db: Db, docName: string): Promise<Uint8Array[]>

  export class LeveldbPersistence {
    constructor(location: string, opts?: { levelOptions?: object })
    storeUpdate(docName: string, update: Uint8Array): Promise<number>
    getYDoc(docName: string): Promise<import('yjs').Doc>
    getAllDocNames(): Promise<string[]>
    flushDocument(docName: string): Promise<void>
    destroy(): Promise<void>
  }
}
