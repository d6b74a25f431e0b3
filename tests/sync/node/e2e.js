// Drives WatermelonDB 0.28's own synchronize() against a running fieldservice server.
// Usage: BASE_URL=http://127.0.0.1:PORT TOKEN=... node e2e.js
// Prints one JSON line per checkpoint; exits non-zero on the first failed expectation.
'use strict'
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const { Database, Model, appSchema, tableSchema } = require('@nozbe/watermelondb')
const LokiJSAdapter = require('@nozbe/watermelondb/adapters/lokijs').default
const { synchronize, hasUnsyncedChanges } = require('@nozbe/watermelondb/sync')
const { setGenerator } = require('@nozbe/watermelondb/utils/common/randomId')
const logger = require('@nozbe/watermelondb/utils/common/logger').default

logger.silence()
setGenerator(() => crypto.randomUUID()) // the server expects UUID ids (records are created offline)

const BASE = process.env.BASE_URL
const AUTH = { Authorization: `Bearer ${process.env.TOKEN}` }

function report(step, data) {
  console.log(JSON.stringify({ step, ...data }))
}

// The app's schema, built from the server's description of the synced tables (GET /api/v1/sync/schema).
// `local` adds what real apps have beside it (issue 13 point 5): a local-only table (the photo upload queue
// docs/sync.md recommends) and a local-only column on a synced table; synchronize() pushes both.
async function loadSchema({ local = false } = {}) {
  const res = await fetch(`${BASE}/api/v1/sync/schema`, { headers: AUTH })
  assert.equal(res.status, 200)
  const described = await res.json()
  if (local) {
    described.tables = described.tables.map((t) => t.name !== 'work_logs' ? t
      : { ...t, columns: [...t.columns, { name: 'is_uploaded', type: 'boolean' }] })
    described.tables.push({ name: 'upload_queue', columns: [
      { name: 'file_path', type: 'string' }, { name: 'attempts', type: 'number' },
      { name: 'created_at', type: 'number' }, { name: 'updated_at', type: 'number' }] })
  }
  const tables = described.tables.map((t) =>
    tableSchema({
      name: t.name,
      columns: t.columns.map((c) => ({ name: c.name, type: c.type, isOptional: !['created_at', 'updated_at'].includes(c.name) })),
    }))
  const models = described.tables.map((t) => {
    // a model without decorators: created_at/updated_at are kept by WatermelonDB when these getters exist
    const cls = class extends Model {
      get createdAt() { return this._getRaw('created_at') }
      get updatedAt() { return this._getRaw('updated_at') }
    }
    cls.table = t.name
    cls.associations = {}
    return cls
  })
  return { schema: appSchema({ version: described.version, tables }), models }
}

function openDevice({ schema, models }, name) {
  const adapter = new LokiJSAdapter({
    schema, dbName: name, useWebWorker: false, useIncrementalIndexedDB: true,
    extraLokiOptions: { autosave: false },
  })
  return new Database({ adapter, modelClasses: models })
}

// pullChanges with the paging loop (docs/sync.md): merge pages, later pages win. With WatermelonDB's default
// settings (`defaults`), records new to the phone stay in `created`; with `sendCreatedAsUpdated: true` the app
// asks the server for every upsert in `updated` (created_as_updated=true).
async function pullChanges({ lastPulledAt, schemaVersion, stats, defaults }) {
  const merged = {}
  let cursor = lastPulledAt
  const pagesBefore = stats.pages
  for (;;) {
    const q = `last_pulled_at=${cursor}&schema_version=${schemaVersion}&page_size=3` +
      (defaults ? '' : '&created_as_updated=true') +
      (stats.pages > pagesBefore ? '&continuation=true' : '')
    const res = await fetch(`${BASE}/api/v1/sync/pull?${q}`, { headers: AUTH })
    if (!res.ok) throw new Error(`pull ${res.status}: ${await res.text()}`)
    const page = await res.json()
    stats.pages += 1
    for (const [table, lists] of Object.entries(page.changes)) {
      const m = (merged[table] = merged[table] || { updated: new Map(), deleted: new Set(), created: new Set() })
      if (!defaults) assert.deepEqual(lists.created, [], 'created_as_updated: every upsert comes in updated')
      for (const record of lists.created) { m.deleted.delete(record.id); m.updated.set(record.id, record); m.created.add(record.id) }
      for (const record of lists.updated) { m.deleted.delete(record.id); m.updated.set(record.id, record) }
      for (const id of lists.deleted) { m.updated.delete(id); m.created.delete(id); m.deleted.add(id) }
    }
    cursor = page.timestamp
    if (!page.has_more) break
  }
  const changes = {}
  for (const [table, m] of Object.entries(merged)) {
    const upserts = [...m.updated.values()]
    changes[table] = {
      created: upserts.filter((r) => m.created.has(r.id)),
      updated: upserts.filter((r) => !m.created.has(r.id)),
      deleted: [...m.deleted],
    }
  }
  return { changes, timestamp: cursor }
}

function pushChangesWith(options) {
  return async ({ changes, lastPulledAt }) => {
    const res = await fetch(`${BASE}/api/v1/sync/push?last_pulled_at=${lastPulledAt}`, {
      method: 'POST',
      headers: { ...AUTH, 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() },
      body: JSON.stringify({ changes }),
    })
    if (!res.ok) throw new Error(`push ${res.status}: ${await res.text()}`)
    const answer = await res.json()
    options.answers.push(answer)
    options.pushed = (options.pushed || []).concat([changes])
    if (options.loseAnswer) { options.loseAnswer = false; throw new Error('network lost before the answer arrived') }
    // no experimentalRejectedIds: rejected records come back marked on the next pull
  }
}

// WatermelonDB reports what it finds wrong in a pull (a record to create that it holds, one to update that it
// does not hold, ...) with console.error("[Sync] ..."): every sync here collects them and fails on any
async function sync(db, options = {}) {
  options.answers = options.answers || []
  const stats = { pages: 0 }
  const complaints = []
  const consoleError = console.error
  console.error = (...args) => {
    const text = args.map((a) => (a && a.message) || String(a)).join(' ')
    if (text.includes('[Sync]')) complaints.push(text); else consoleError(...args)
  }
  try {
    await synchronize({
      database: db,
      sendCreatedAsUpdated: !options.defaults,
      pullChanges: (args) => pullChanges({ ...args, stats, defaults: options.defaults }),
      pushChanges: pushChangesWith(options),
    })
  } finally {
    console.error = consoleError
  }
  assert.deepEqual(complaints, [], 'WatermelonDB found nothing wrong in what the server sent')
  return { stats, answers: options.answers }
}

const raw = async (db, table) => (await db.get(table).query().fetch()).map((r) => r._raw)

async function main() {
  const shape = await loadSchema()

  // 1. first sync on device A
  const deviceA = openDevice(shape, 'device-a')
  const first = await sync(deviceA)
  const visits = await raw(deviceA, 'visits')
  assert.equal(visits.length, 1, 'one visit in scope')
  assert.ok(first.stats.pages > 1, 'the first sync was paged')
  report('first_sync', { visits: visits.length, work_orders: (await raw(deviceA, 'work_orders')).length, pages: first.stats.pages })

  // 2. offline: arrive, log work (two new records with client UUIDs), note
  const visit = await deviceA.get('visits').find(visits[0].id)
  const arrived = Date.now() - 60 * 60 * 1000
  let logIds
  await deviceA.write(async () => {
    await visit.update((v) => { v._setRaw('status', 'in_progress'); v._setRaw('arrived_at', arrived); v._setRaw('notes', '现场已到 on site') })
    const a = await deviceA.get('work_logs').create((w) => {
      w._setRaw('visit_id', visit.id); w._setRaw('started_at', arrived); w._setRaw('description', '拆检主轴 inspected spindle')
    })
    const b = await deviceA.get('work_logs').create((w) => {
      w._setRaw('visit_id', visit.id); w._setRaw('started_at', arrived + 600000); w._setRaw('description', '更换轴承 replaced bearing')
    })
    logIds = [a.id, b.id]
  })
  assert.equal(await hasUnsyncedChanges({ database: deviceA }), true)

  // 3. push (pull first, as synchronize does); the answer is lost on the way back
  let lost = null
  const lostOptions = { loseAnswer: true }
  try { await sync(deviceA, lostOptions) } catch (e) { lost = e.message }
  assert.match(lost, /network lost/)
  assert.equal(await hasUnsyncedChanges({ database: deviceA }), true, 'unacknowledged records stay pending')
  report('push_answer_lost', { server_answer: lostOptions.answers[0] })

  // 4. the next sync re-pushes the same records under a new Idempotency-Key: the server changes nothing
  const retry = await sync(deviceA)
  assert.equal(await hasUnsyncedChanges({ database: deviceA }), false)
  report('retried_push', { server_answer: retry.answers[0], log_ids: logIds })

  // 5. a second device of the same technician sees the work
  const deviceB = openDevice(shape, 'device-b')
  await sync(deviceB)
  const logsB = await raw(deviceB, 'work_logs')
  const visitB = (await raw(deviceB, 'visits'))[0]
  assert.deepEqual(logsB.map((l) => l.id).sort(), [...logIds].sort())
  assert.equal(visitB.status, 'in_progress')
  assert.equal(visitB.arrived_at, arrived)
  assert.ok(logsB.every((l) => l.sync_status === 'synced' && l._status === 'synced'))
  report('second_device', { work_logs: logsB.length, visit_status: visitB.status })

  // 6. a record the server refuses comes back marked, and is not pushed again and again
  await deviceB.write(async () => {
    const order = (await deviceB.get('work_orders').query().fetch())[0]
    await order.update((o) => { o._setRaw('status', 'closed') }) // the state machine forbids it
  })
  const refused = await sync(deviceB)
  assert.equal(refused.answers[0].rejected, 1)
  await sync(deviceB)
  const orderB = (await raw(deviceB, 'work_orders'))[0]
  assert.equal(orderB.sync_status, 'rejected')
  assert.equal(orderB.status, 'in_progress')
  assert.equal(await hasUnsyncedChanges({ database: deviceB }), false)
  report('rejected_record', { status: orderB.status, sync_status: orderB.sync_status, reason: orderB.rejection_reason })

  // 7. an app with a local-only table and a local-only column (issue 13 point 5): a push carrying the table
  // with empty lists and the column on every work log is taken; the column is ignored
  const local = await loadSchema({ local: true })
  const deviceC = openDevice(local, 'device-c')
  await sync(deviceC)
  let localLogId
  await deviceC.write(async () => {
    const entry = await deviceC.get('work_logs').create((w) => {
      w._setRaw('visit_id', visit.id); w._setRaw('started_at', arrived + 1200000); w._setRaw('description', '试机 test run')
      w._setRaw('is_uploaded', false)
    })
    localLogId = entry.id
  })
  const localOptions = {}
  const withLocal = await sync(deviceC, localOptions)
  const pushed = localOptions.pushed[0]
  assert.deepEqual(pushed.upload_queue, { created: [], updated: [], deleted: [] }) // what synchronize() sends
  assert.equal(pushed.work_logs.created[0].is_uploaded, false)
  assert.deepEqual(withLocal.answers[0].rejected_ids, {})
  assert.equal(withLocal.answers[0].accepted, 1)
  report('local_only_table_empty', { server_answer: withLocal.answers[0], log_id: localLogId })

  // 8. records in the local-only table are quarantined (unknown_table), the rest of that push applies
  let queuedId
  await deviceC.write(async () => {
    const queued = await deviceC.get('upload_queue').create((q) => { q._setRaw('file_path', '/photos/1.jpg'); q._setRaw('attempts', 0) })
    queuedId = queued.id
    const entry = await deviceC.get('work_logs').find(localLogId)
    await entry.update((w) => { w._setRaw('description', '试机正常 test run ok'); w._setRaw('is_uploaded', true) })
  })
  const queuedPush = await sync(deviceC)
  assert.equal(queuedPush.answers[0].accepted, 1)
  assert.deepEqual(queuedPush.answers[0].rejected_ids, { upload_queue: [queuedId] })
  await sync(deviceC) // the next sync is not disturbed by the quarantined record
  assert.equal(await hasUnsyncedChanges({ database: deviceC }), false)
  report('local_only_table_records', { server_answer: queuedPush.answers[0], queued_id: queuedId })

  // 9. an app that forgot the id generator: WatermelonDB's default 16-character ids are quarantined
  // (id_not_uuid), the rest of the push applies
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
  setGenerator(() => Array.from(crypto.randomBytes(16), (b) => alphabet[b % alphabet.length]).join(''))
  let shortId
  await deviceC.write(async () => {
    const entry = await deviceC.get('work_logs').create((w) => {
      w._setRaw('visit_id', visit.id); w._setRaw('started_at', arrived + 1800000); w._setRaw('description', '默认编号 default id')
    })
    shortId = entry.id
    const visitC = await deviceC.get('visits').find(visit.id)
    await visitC.update((v) => { v._setRaw('notes', '现场已到 on site; 试机正常') })
  })
  setGenerator(() => crypto.randomUUID())
  assert.equal(shortId.length, 16)
  const shortPush = await sync(deviceC)
  assert.equal(shortPush.answers[0].accepted, 1) // the visit's notes
  assert.deepEqual(shortPush.answers[0].rejected_ids, { work_logs: [shortId] })
  await sync(deviceC)
  assert.equal(await hasUnsyncedChanges({ database: deviceC }), false)
  report('id_not_uuid', { server_answer: shortPush.answers[0], short_id: shortId })

  // 10. an app with WatermelonDB's default settings (no sendCreatedAsUpdated, issue 13 point 5): the first sync
  // gets everything in `created`; its own pushed work log comes back in `updated` (it holds it); no complaints
  const deviceD = openDevice(shape, 'device-d')
  const firstD = await sync(deviceD, { defaults: true })
  const logsD = await raw(deviceD, 'work_logs')
  assert.ok(logsD.length >= 3, 'the work logged so far')
  let ownLogId
  await deviceD.write(async () => {
    const entry = await deviceD.get('work_logs').create((w) => {
      w._setRaw('visit_id', visit.id); w._setRaw('started_at', arrived + 2400000); w._setRaw('description', '收尾 wrap-up')
    })
    ownLogId = entry.id
  })
  await sync(deviceD, { defaults: true })
  await sync(deviceD, { defaults: true })
  assert.equal(await hasUnsyncedChanges({ database: deviceD }), false)
  const own = (await raw(deviceD, 'work_logs')).find((l) => l.id === ownLogId)
  assert.equal(own.sync_status, 'synced')
  // and the device with sendCreatedAsUpdated still takes the new log
  await sync(deviceA)
  assert.ok((await raw(deviceA, 'work_logs')).some((l) => l.id === ownLogId))
  report('default_settings', { pages: firstD.stats.pages, work_logs: logsD.length + 1, own_log_id: ownLogId })

  console.log('1 passed, 0 failed')
}

main().then(() => process.exit(0)).catch((e) => { console.error(e); process.exit(1) })
