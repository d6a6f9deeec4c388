// Shared checks of the records the gateway publishes.

import assert from 'node:assert/strict';
import { TOPICS } from './kafka.mjs';
import { assertSchema } from './schemas.mjs';

/** Topic of each station-initiated action (contract table; both versions). */
export const ACTION_TOPIC = Object.freeze({
  StartTransaction: TOPICS.transactions,
  StopTransaction: TOPICS.transactions,
  TransactionEvent: TOPICS.transactions,
  MeterValues: TOPICS.meterValues,
  BootNotification: TOPICS.status,
  StatusNotification: TOPICS.status,
  FirmwareStatusNotification: TOPICS.status,
  DiagnosticsStatusNotification: TOPICS.status,
  LogStatusNotification: TOPICS.status,
  SignedFirmwareStatusNotification: TOPICS.status,
  PublishFirmwareStatusNotification: TOPICS.status,
  NotifyEvent: TOPICS.status,
  Heartbeat: TOPICS.heartbeats,
  Authorize: TOPICS.authorizations,
});

/** eventClass of the station events on each topic (station-event schema enum). */
export const TOPIC_EVENT_CLASS = Object.freeze({
  [TOPICS.transactions]: 'transaction',
  [TOPICS.meterValues]: 'metering',
  [TOPICS.status]: 'status',
  [TOPICS.heartbeats]: 'heartbeat',
  [TOPICS.authorizations]: 'authorization',
  [TOPICS.security]: 'security',
  [TOPICS.reports]: 'report',
  [TOPICS.dataTransfer]: 'data-transfer',
  [TOPICS.der]: 'der',
});

/** "1.6" / "2.0.1" / "2.1" for a subprotocol name. */
export function versionOf(subprotocol) {
  return { 'ocpp1.6': '1.6', 'ocpp2.0.1': '2.0.1', 'ocpp2.1': '2.1' }[subprotocol];
}

/** RFC 3339 UTC with milliseconds, as the station-event schema describes receivedAt. */
export const UTC_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const CLOCK_SLACK_MS = 5_000;

/** Asserts an RFC 3339 time lies within [from - slack, to + slack]. */
export function assertTimeWithin(value, from, to, what) {
  const ms = Date.parse(value);
  assert.ok(Number.isFinite(ms), `${what}: ${JSON.stringify(value)} is not a time`);
  assert.ok(ms >= from - CLOCK_SLACK_MS && ms <= to + CLOCK_SLACK_MS,
    `${what}: ${value} is outside the test's time window ${new Date(from).toISOString()} .. ${new Date(to).toISOString()}`);
}

/**
 * Checks one Kafka record against the station call it must represent.
 * `call` is a Station log entry {action, messageId, payload, reply}.
 */
export function assertStationEventRecord(rec, { call, stationId, version, gatewayId, window }) {
  const where = `${rec.topic}@${rec.partition}:${rec.offset} (${call.action} ${call.messageId})`;
  assert.equal(rec.valueError, null, `${where}: value is not JSON: ${rec.valueError}`);
  assert.equal(rec.key, stationId, `${where}: record key`);
  assert.equal(rec.topic, ACTION_TOPIC[call.action], `${where}: topic for ${call.action}`);
  assertSchema('stationEvent', rec.value, where);
  assert.equal(rec.headers['ocpp-version'], version, `${where}: header ocpp-version`);
  assert.equal(rec.headers['ocpp-action'], call.action, `${where}: header ocpp-action`);
  assert.equal(rec.headers['content-type'], 'application/json', `${where}: header content-type`);
  const v = rec.value;
  assert.equal(v.stationId, stationId, `${where}: stationId`);
  assert.equal(v.ocppVersion, version, `${where}: ocppVersion`);
  assert.equal(v.action, call.action, `${where}: action`);
  assert.equal(v.messageId, call.messageId, `${where}: messageId`);
  assert.equal(v.eventClass, TOPIC_EVENT_CLASS[rec.topic], `${where}: eventClass`);
  assert.equal(v.gatewayId, gatewayId, `${where}: gatewayId`);
  assert.match(v.receivedAt, UTC_MILLIS, `${where}: receivedAt format`);
  if (window) assertTimeWithin(v.receivedAt, window.from, window.to, `${where}: receivedAt`);
  if (call.sentAt && call.repliedAt) {
    // Same host, same clock: received after it was sent, before it was answered.
    const t = Date.parse(v.receivedAt);
    assert.ok(t >= call.sentAt - 1_000 && t <= call.repliedAt + 1_000,
      `${where}: receivedAt ${v.receivedAt} not between send (${new Date(call.sentAt).toISOString()}) and reply (${new Date(call.repliedAt).toISOString()})`);
  }
  assert.deepEqual(v.payload, call.payload, `${where}: payload must equal the request the station sent`);
  assert.ok(call.reply !== undefined, `${where}: the station received no CALLRESULT for this call`);
  assert.deepEqual(v.reply, call.reply, `${where}: reply must equal the CALLRESULT payload the station received`);
}

/**
 * Matches every call in `calls` (in send order) to exactly one record among
 * `records` (already filtered by key), checks each, and checks the session
 * invariants: one sessionId, sequence consecutive in send order, unique
 * eventIds, per-topic offsets in sequence order. Returns
 * {sessionId, matched: [{call, record}]}.
 */
export function assertSessionEvents(records, calls, ctx) {
  const stationEvents = records.filter((r) => r.topic !== TOPICS.connections && r.topic !== TOPICS.deadLetter);
  const byMessageId = new Map();
  for (const r of stationEvents) {
    const id = r.value?.messageId;
    if (!byMessageId.has(id)) byMessageId.set(id, []);
    byMessageId.get(id).push(r);
  }
  const matched = [];
  for (const call of calls) {
    const recs = byMessageId.get(call.messageId) ?? [];
    assert.equal(recs.length, 1, `${call.action} ${call.messageId}: expected exactly one record, found ${recs.length}`
      + (recs.length === 0 ? ' (the station had its CALLRESULT, so the record must already be in Kafka)' : ''));
    assertStationEventRecord(recs[0], { ...ctx, call });
    matched.push({ call, record: recs[0] });
  }
  const ids = new Set(calls.map((c) => c.messageId));
  const extra = stationEvents.filter((r) => !ids.has(r.value?.messageId));
  assert.deepEqual(extra.map((r) => `${r.topic}:${r.offset} ${r.value?.action} ${r.value?.messageId}`), [],
    'records for this station that match no call it made');

  if (matched.length === 0) return { sessionId: null, matched };
  const sessionId = matched[0].record.value.sessionId;
  for (const { call, record } of matched) {
    assert.equal(record.value.sessionId, sessionId, `${call.action} ${call.messageId}: sessionId differs within one connection`);
  }
  const seqs = matched.map((m) => m.record.value.sequence);
  const first = seqs[0];
  assert.deepEqual(seqs, seqs.map((_, i) => first + i),
    `sequence must increase by 1 per published event in send order; got ${JSON.stringify(seqs)} for ${matched.map((m) => m.call.action).join(', ')}`);
  const eventIds = matched.map((m) => m.record.value.eventId);
  assert.equal(new Set(eventIds).size, eventIds.length, 'eventId must be unique per event');

  // Within a topic partition, offsets must follow the send order.
  const perPartition = new Map();
  for (const { record } of matched) {
    const k = `${record.topic}/${record.partition}`;
    if (!perPartition.has(k)) perPartition.set(k, []);
    perPartition.get(k).push(record);
  }
  for (const [k, recs] of perPartition) {
    const offsets = recs.map((r) => r.offset);
    assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), `${k}: records of this station are not in send order`);
  }
  // One station key must map to one partition per topic.
  const parts = new Map();
  for (const { record } of matched) {
    if (!parts.has(record.topic)) parts.set(record.topic, new Set());
    parts.get(record.topic).add(record.partition);
  }
  for (const [topic, set] of parts) {
    assert.equal(set.size, 1, `${topic}: records of one station spread over partitions ${[...set].join(', ')}`);
  }
  return { sessionId, matched };
}

/** The Connected / Disconnected records of one session (by sessionId). */
export function connectionRecords(records, sessionId) {
  const mine = records.filter((r) => r.topic === TOPICS.connections && r.value?.sessionId === sessionId);
  return {
    connected: mine.filter((r) => r.value.type === 'Connected'),
    disconnected: mine.filter((r) => r.value.type === 'Disconnected'),
  };
}

/** Checks a connection-event record. */
export function assertConnectionRecord(rec, { type, stationId, gatewayId, version, subprotocol, sessionId, window, securityProfile = 0 }) {
  const where = `${rec.topic}@${rec.partition}:${rec.offset} (${type})`;
  assert.equal(rec.valueError, null, `${where}: value is not JSON`);
  assert.equal(rec.key, stationId, `${where}: record key`);
  assertSchema('connectionEvent', rec.value, where);
  const v = rec.value;
  assert.equal(v.type, type, `${where}: type`);
  assert.equal(v.stationId, stationId, `${where}: stationId`);
  assert.equal(v.gatewayId, gatewayId, `${where}: gatewayId`);
  if (sessionId !== undefined) assert.equal(v.sessionId, sessionId, `${where}: sessionId`);
  assert.equal(v.ocppVersion, version, `${where}: ocppVersion`);
  assert.equal(v.subprotocol, subprotocol, `${where}: subprotocol`);
  // The listener's profile (0: plain ws:// without credentials).
  assert.equal(v.securityProfile, securityProfile, `${where}: securityProfile`);
  assert.match(v.address, /127\.0\.0\.1/, `${where}: address should be the station's loopback address`);
  if (window) assertTimeWithin(v.at, window.from, window.to, `${where}: at`);
  if (type === 'Disconnected') {
    assert.equal(typeof v.reason, 'string', `${where}: Disconnected must carry reason`);
    assert.equal(typeof v.closeCode, 'number', `${where}: Disconnected must carry closeCode`);
  }
}
