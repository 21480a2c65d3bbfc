// rokka's official JavaScript client (npm "rokka") against a running `rokkafs serve`.
// Started by tests/api/test_rokka_js.py with ROKKA_URL, ROKKA_KEY, IMAGE_A, IMAGE_B, IMAGE_C and
// IMAGE_URL (where IMAGE_C is served).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import rokkaModule from 'rokka'

const rokkaFactory = rokkaModule.default ?? rokkaModule

const rokka = rokkaFactory({ apiKey: process.env.ROKKA_KEY, apiHost: process.env.ROKKA_URL })
const sha1 = (data) => createHash('sha1').update(data).digest('hex')
const imageA = readFileSync(process.env.IMAGE_A)
const imageB = readFileSync(process.env.IMAGE_B)
const imageC = readFileSync(process.env.IMAGE_C)

test('organizations create and get', async () => {
  const created = await rokka.organizations.create('js-org', 'billing@example.org', 'JS Org')
  assert.equal(created.body.name, 'js-org')
  assert.equal(created.body.display_name, 'JS Org')
  const got = await rokka.organizations.get('js-org')
  assert.equal(got.body.id, created.body.id)
  await rokka.organizations.create('js-copy', 'billing@example.org', 'JS Copy')
})

let plain
test('create with metadata, get, getWithBinaryHash', async () => {
  const created = await rokka.sourceimages.create('js-org', 'a.png', imageA, {
    meta_user: { 'int:views': 3, title: 'A' },
  })
  assert.equal(created.body.total, 1)
  plain = created.body.items[0]
  assert.equal(plain.binary_hash, sha1(imageA))
  assert.equal(plain.hash, sha1(plain.binary_hash + 'a:0:{}'))
  assert.equal(plain.name, 'a.png')
  assert.deepEqual(plain.user_metadata, { 'int:views': 3, title: 'A' })
  const got = await rokka.sourceimages.get('js-org', plain.short_hash)
  assert.equal(got.body.hash, plain.hash)
  const byBinary = await rokka.sourceimages.getWithBinaryHash('js-org', plain.binary_hash)
  assert.equal(byBinary.body.items[0].hash, plain.hash)
  const second = await rokka.sourceimages.create('js-org', 'b.jpg', imageB, {
    meta_dynamic: { version: { text: 'v1' } },
  })
  assert.deepEqual(second.body.items[0].dynamic_metadata, { version: { text: 'v1' } })
})

test('create by URL', async () => {
  const created = await rokka.sourceimages.createByUrl('js-org', process.env.IMAGE_URL, {
    meta_user: { source: 'web' },
  })
  assert.equal(created.body.items[0].user_metadata.source, 'web')
  assert.equal(created.body.items[0].binary_hash, sha1(imageC))
  assert.equal(created.body.items[0].name, 'c.png')
  await rokka.sourceimages.delete('js-org', created.body.items[0].hash)
})

test('list with search, sort and cursor paging', async () => {
  const all = await rokka.sourceimages.list('js-org', { limit: 1 })
  assert.equal(all.body.total, 2)
  assert.equal(all.body.items.length, 1)
  const next = await rokka.sourceimages.list('js-org', { limit: 1, offset: all.body.cursor })
  assert.equal(next.body.items.length, 1)
  assert.notEqual(next.body.items[0].hash, all.body.items[0].hash)
  const end = await rokka.sourceimages.list('js-org', { limit: 1, offset: next.body.cursor })
  assert.equal(end.body.items.length, 0)
  const found = await rokka.sourceimages.list('js-org', { search: { 'user:int:views': '[2,4]' } })
  assert.deepEqual(found.body.items.map((i) => i.hash), [plain.hash])
  const sorted = await rokka.sourceimages.list('js-org', { sort: 'size desc' })
  assert.ok(sorted.body.items[0].size >= sorted.body.items[1].size)
})

test('download', async () => {
  // download() hands back text (a rokka.js quirk); downloadAsBuffer() gives the bytes
  const download = await rokka.sourceimages.download('js-org', plain.hash)
  assert.equal(download.statusCode, 200)
  assert.match(download.response.headers.get('content-disposition'), /filename="a.png"$/)
  const buffer = await rokka.sourceimages.downloadAsBuffer('js-org', plain.hash)
  assert.equal(sha1(buffer.body), plain.binary_hash)
})

test('meta add, replace, delete', async () => {
  await rokka.sourceimages.meta.add('js-org', plain.hash, { extra: 'x' })
  let got = await rokka.sourceimages.get('js-org', plain.hash)
  assert.deepEqual(got.body.user_metadata, { 'int:views': 3, title: 'A', extra: 'x' })
  await rokka.sourceimages.meta.replace('js-org', plain.hash, { only: 'this' })
  got = await rokka.sourceimages.get('js-org', plain.hash)
  assert.deepEqual(got.body.user_metadata, { only: 'this' })
  await rokka.sourceimages.meta.delete('js-org', plain.hash, 'only')
  got = await rokka.sourceimages.get('js-org', plain.hash)
  assert.equal(got.body.user_metadata, undefined)
})

test('putName and setLocked', async () => {
  await rokka.sourceimages.putName('js-org', plain.hash, 'renamed.png')
  assert.equal((await rokka.sourceimages.get('js-org', plain.hash)).body.name, 'renamed.png')
  const locked = await rokka.sourceimages.setLocked('js-org', plain.hash, true)
  assert.equal(locked.body.locked, true)
  await assert.rejects(rokka.sourceimages.delete('js-org', plain.hash), (e) => e.statusCode === 403)
  await rokka.sourceimages.setLocked('js-org', plain.hash, false)
})

test('dynamic metadata: subject area set and removed', async () => {
  const set = await rokka.sourceimages.setSubjectArea('js-org', plain.hash, { x: 1, y: 2, width: 3, height: 4 })
  assert.equal(set.statusCode, 201)
  const variant = set.body.hash
  assert.notEqual(variant, plain.hash)
  assert.deepEqual(set.body.dynamic_metadata.subject_area, { x: 1, y: 2, width: 3, height: 4 })
  assert.match(set.response.headers.get('location'), new RegExp(`/sourceimages/js-org/${variant}$`))
  const removed = await rokka.sourceimages.removeSubjectArea('js-org', variant, { deletePrevious: true })
  assert.equal(removed.body.hash, plain.hash)
  await assert.rejects(rokka.sourceimages.get('js-org', variant), (e) => e.statusCode === 404)
})

test('copy and copyAll', async () => {
  const copied = await rokka.sourceimages.copy('js-org', plain.hash, 'js-copy')
  assert.equal(copied.statusCode, 201)
  await assert.rejects(
    rokka.sourceimages.copy('js-org', plain.hash, 'js-copy', false),
    (e) => e.statusCode === 412,
  )
  const list = await rokka.sourceimages.list('js-org')
  const all = await rokka.sourceimages.copyAll('js-org', list.body.items.map((i) => i.hash), 'js-copy')
  assert.equal(all.body.created.length + all.body.existing.length, 2)
  assert.deepEqual(all.body.notfound, [])
  assert.equal((await rokka.sourceimages.get('js-copy', plain.hash)).body.name, 'renamed.png')
})

test('delete, restore, deleteWithBinaryHash', async () => {
  const deleted = await rokka.sourceimages.delete('js-org', plain.hash)
  assert.equal(deleted.statusCode, 204)
  const trashed = await rokka.sourceimages.get('js-org', plain.hash, { deleted: true })
  assert.equal(trashed.body.deleted, true)
  const restored = await rokka.sourceimages.restore('js-org', plain.hash)
  assert.equal(restored.body.deleted, false)
  await rokka.sourceimages.deleteWithBinaryHash('js-org', plain.binary_hash)
  await assert.rejects(rokka.sourceimages.get('js-org', plain.hash), (e) => e.statusCode === 404)
})

test('memberships: createWithNewUser, list, create, get, delete', async () => {
  const made = await rokka.memberships.createWithNewUser('js-org', [rokka.memberships.ROLES.READ], 'bot')
  assert.equal(made.statusCode, 201)
  assert.equal(made.body.api_key.length, 64)
  assert.deepEqual(made.body.roles, ['read'])
  const userId = made.body.user_id
  const list = await rokka.memberships.list('js-org')
  assert.ok(list.body.items.some((m) => m.user_id === userId))
  const member = rokkaFactory({ apiKey: made.body.api_key, apiHost: process.env.ROKKA_URL, retries: 0 })
  assert.equal((await member.sourceimages.list('js-org')).statusCode, 200)
  await assert.rejects(
    member.sourceimages.create('js-org', 'nope.png', imageA),
    (e) => e.statusCode === 403,
  )
  await assert.rejects(member.sourceimages.list('js-copy'), (e) => e.statusCode === 404)
  const changed = await rokka.memberships.create('js-org', userId, [rokka.memberships.ROLES.WRITE])
  assert.deepEqual(changed.body.roles, ['write'])
  assert.deepEqual((await rokka.memberships.get('js-org', userId)).body.roles, ['write'])
  await rokka.memberships.delete('js-org', userId)
  await assert.rejects(rokka.memberships.get('js-org', userId), (e) => e.statusCode === 404)
})

test('invalid key is refused the rokka way', async () => {
  const stranger = rokkaFactory({ apiKey: 'nope', apiHost: process.env.ROKKA_URL, retries: 0 })
  await assert.rejects(stranger.sourceimages.list('js-org'), (e) => e.statusCode === 403 && e.body.invalid_authentication === true)
})
