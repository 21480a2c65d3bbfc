// The npm "webdav" client against `rokkafs serve` (started by tests/webdav/test_npm_webdav.py
// with DAV_URL, DAV_KEY, IMAGE).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createClient } from 'webdav'

const client = createClient(process.env.DAV_URL, { username: 'someone', password: process.env.DAV_KEY })
const image = readFileSync(process.env.IMAGE)

test('upload, list, stat, download, move, copy, delete', async () => {
  await client.createDirectory('/acme/album')
  assert.equal(await client.putFileContents('/acme/album/cat.png', image), true)
  assert.equal(await client.putFileContents('/acme/album/cat.png', image, { overwrite: false }), false)
  const listing = await client.getDirectoryContents('/acme/album')
  assert.deepEqual(listing.map((e) => e.basename), ['cat.png'])
  assert.equal(listing[0].size, image.length)
  assert.equal(listing[0].type, 'file')
  assert.equal(listing[0].mime, 'image/png')
  const stat = await client.stat('/acme/album/cat.png')
  assert.ok(stat.etag)
  const back = Buffer.from(await client.getFileContents('/acme/album/cat.png'))
  assert.ok(back.equals(image))
  await client.moveFile('/acme/album/cat.png', '/acme/album/renamed.png')
  await client.copyFile('/acme/album/renamed.png', '/other/copied.png')
  assert.equal(await client.exists('/acme/album/cat.png'), false)
  assert.equal(await client.exists('/other/copied.png'), true)
  await client.deleteFile('/acme/album/renamed.png')
  const trash = await client.getDirectoryContents('/acme/.trash/album')
  assert.deepEqual(trash.map((e) => e.basename), ['renamed.png'])
  const quota = await client.getQuota()
  assert.ok(quota === null || typeof quota.available !== 'undefined')
})
