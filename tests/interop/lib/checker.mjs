// The fault suite's checker: what the stations saw against what Kafka holds.
//
// Input: stations that kept sending MeterValues with a unique marker each
// (RetryingMeterStation: every attempt with its wire message id and the
// CALLRESULT or error it got) and every record of the meter-values topic
// under their keys, read back after the fault. Output: counts for the
// reliability table and a list of problems (empty when the promise held):
//
// - lost: a CALLRESULT whose record is not on the topic (must be 0);
// - replyMismatch: a record whose `reply` differs from the CALLRESULT the
//   station got, or whose payload is not what the station sent (must be 0);
// - duplicates: records beyond the first of one message. Each must be
//   explained: the message has an attempt answered with an error, a timeout
//   or a lost connection (the station sent it again), and all its records
//   share one dedupKey; one CALL (wire message id) never has two records;
// - order: within one session (sessionId), sequence grows with the offset,
//   and a session's records sit in one partition (with `partitionsGrew`: a
//   topic that gained partitions moves a station's key, so a session may
//   span partitions; then sequence grows within each partition and no
//   sequence number appears twice);
// - strangers: records under the stations' keys that match no CALL sent.

import { isDeepStrictEqual } from 'node:util';
import { markerOf } from './retrying-station.mjs';

export function checkMeterDelivery({ stations, records, partitionsGrew = false }) {
  const problems = [];
  const stats = {
    stations: stations.length,
    messages: 0,
    acknowledged: 0,
    attempts: 0,
    records: records.length,
    lost: 0,
    replyMismatch: 0,
    duplicates: 0,
    unexplainedDuplicates: 0,
    orderViolations: 0,
    strangers: 0,
  };
  const byMessageId = new Map();
  for (const r of records) {
    if (r.valueError) {
      problems.push(`${r.topic}@${r.partition}:${r.offset} is not JSON: ${r.valueError}`);
      continue;
    }
    const id = r.value.messageId;
    if (!byMessageId.has(id)) byMessageId.set(id, []);
    byMessageId.get(id).push(r);
  }
  const matched = new Set();
  for (const s of stations) {
    for (const msg of s.messages) {
      stats.messages++;
      stats.attempts += msg.attempts.length;
      if (msg.ackedAt !== null) stats.acknowledged++;
      const recs = [];
      for (const a of msg.attempts) {
        const aRecs = byMessageId.get(a.entry.messageId) ?? [];
        for (const r of aRecs) matched.add(r);
        recs.push(...aRecs);
        if (aRecs.length > 1) problems.push(`${s.identity}: CALL ${a.entry.messageId} has ${aRecs.length} records`);
        if (a.entry.reply === undefined) continue;
        // A CALLRESULT (even one after the station's own timeout) promises its record.
        if (aRecs.length === 0) {
          stats.lost++;
          problems.push(`${s.identity}: marker ${msg.marker}: CALLRESULT for ${a.entry.messageId} at `
            + `${new Date(a.entry.repliedAt).toISOString()} but no record on the topic`);
          continue;
        }
        const r = aRecs[0];
        if (!isDeepStrictEqual(r.value.reply, a.entry.reply) || !isDeepStrictEqual(r.value.payload, a.entry.payload)) {
          stats.replyMismatch++;
          problems.push(`${s.identity}: marker ${msg.marker}: record ${r.partition}:${r.offset} differs from the call `
            + `(reply ${JSON.stringify(r.value.reply)} vs ${JSON.stringify(a.entry.reply)})`);
        }
      }
      if (recs.length > 1) {
        stats.duplicates += recs.length - 1;
        const resent = msg.attempts.some((a) => a.outcome !== 'result');
        const keys = new Set(recs.map((r) => r.value.dedupKey));
        if (!resent || keys.size !== 1) {
          stats.unexplainedDuplicates += recs.length - 1;
          problems.push(`${s.identity}: marker ${msg.marker} is on Kafka ${recs.length} times `
            + `(${resent ? 'resent' : 'never resent'}, ${keys.size} dedupKeys)`);
        }
      }
      for (const r of recs) {
        if (markerOf(r.value.payload) !== msg.marker) {
          problems.push(`${s.identity}: record ${r.partition}:${r.offset} carries marker ${markerOf(r.value.payload)}, not ${msg.marker}`);
        }
      }
    }
    // Order within each session of this station.
    const mine = records.filter((r) => r.key === s.identity && !r.valueError)
      .sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    const sessions = new Map();
    for (const r of mine) {
      if (!sessions.has(r.value.sessionId)) sessions.set(r.value.sessionId, []);
      sessions.get(r.value.sessionId).push(r);
    }
    for (const [sessionId, recs] of sessions) {
      const parts = new Set(recs.map((r) => r.partition));
      if (parts.size > 1 && !partitionsGrew) {
        stats.orderViolations++;
        problems.push(`${s.identity}: session ${sessionId} has records on partitions ${[...parts].join(', ')}`);
      }
      const seen = new Set();
      for (const r of recs) {
        if (seen.has(r.value.sequence)) {
          stats.orderViolations++;
          problems.push(`${s.identity}: session ${sessionId}: sequence ${r.value.sequence} twice`);
        }
        seen.add(r.value.sequence);
      }
      for (const p of parts) {
        const inPart = recs.filter((r) => r.partition === p);
        for (let i = 1; i < inPart.length; i++) {
          if (!(inPart[i].value.sequence > inPart[i - 1].value.sequence)) {
            stats.orderViolations++;
            problems.push(`${s.identity}: session ${sessionId}: sequence ${inPart[i].value.sequence} at ${p}:${inPart[i].offset} `
              + `after ${inPart[i - 1].value.sequence}`);
            break;
          }
        }
      }
    }
  }
  for (const r of records) {
    if (!r.valueError && !matched.has(r)) {
      stats.strangers++;
      problems.push(`${r.key}: record ${r.partition}:${r.offset} (messageId ${r.value.messageId}) matches no CALL a station sent`);
    }
  }
  return { stats, problems };
}

/**
 * Timing of a fault from the stations' side: the longest time any station
 * went without an acknowledgement from `from` on, and how long after `end`
 * (the fault's end: resume, restart) every station had one again.
 */
export function recoveryTimes(stations, { from, end }) {
  let longestStallMs = 0;
  let recoveredAfterMs = 0;
  for (const s of stations) {
    const acks = s.messages.map((m) => m.ackedAt).filter((t) => t !== null && t >= from).sort((a, b) => a - b);
    let prev = from;
    for (const t of acks) {
      longestStallMs = Math.max(longestStallMs, t - prev);
      prev = t;
    }
    const first = acks.find((t) => t >= end);
    recoveredAfterMs = Math.max(recoveredAfterMs, first === undefined ? Infinity : first - end);
  }
  return { longestStallMs, recoveredAfterMs };
}
