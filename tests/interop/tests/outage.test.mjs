// Kafka goes away for 30 s while stations are sending.
//
// The gateway runs against a broker of its own (deploy/kafka/kafka.sh on
// free ports, fresh data directory) with a 5 s delivery timeout
// (librdkafka message.timeout.ms). Ten stations (1.6 and 2.0.1) keep sending
// MeterValues, one CALL at a time, each message with a unique marker; a
// message whose CALL fails is sent again, same payload, until a CALLRESULT
// answers it. After about 5 s of traffic the broker is stopped, stays down
// for 30 s, and is started again on the same data; the stations carry on
// until everything they ever sent is acknowledged. Then:
//
// - every CALLRESULT a station received has its record (exact payload and
//   reply); during the outage the stations got CALLERRORs / timeouts, never a
//   false success;
// - every message is on Kafka at least once, every record has its own
//   eventId, and a message is on Kafka more than once only if one of its
//   attempts was answered with an error (stored although reported failed);
// - /readyz went to 503 during the outage and back to 200 after it;
// - the gateway's resident memory stayed bounded;
// - the gateway stayed up and no station was disconnected.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startGateway, uniqueStationId, withGatewayLog, httpGet } from '../lib/gateway.mjs';
import { TopicReader, TOPICS, readToEndRetrying, retryRead, waitForGroupCoordinator } from '../lib/kafka.mjs';
import { PrivateBroker } from '../lib/broker.mjs';
import { GatewayMonitor, rssSummary, metricValue } from '../lib/monitor.mjs';
import { until } from '../lib/until.mjs';
import { RetryingMeterStation, markerOf, awaitLoops } from '../lib/retrying-station.mjs';
import { assertStationEventRecord, connectionRecords, versionOf } from '../lib/expect.mjs';

const STATIONS = 10;
const DELIVERY_TIMEOUT_MS = 5_000;         // librdkafka message.timeout.ms given to the gateway
// The stations' own call timeout. A CALLERROR can take the delivery timeout
// plus librdkafka's reconnect backoff (reconnect.backoff.max.ms, 10 s by
// default) to come back while the broker is down, so this is well above both.
const CALL_TIMEOUT_MS = 30_000;
const TRAFFIC_BEFORE_MS = 5_000;
const OUTAGE_MS = 30_000;
const RECOVERY_TIMEOUT_MS = 90_000;        // after the restart, every message must be acknowledged within this
const ACKS_AFTER_RESTART = 5;              // each station proves normal service after the restart
const RSS_BOUND_MIB = 150;
const MONITOR_INTERVAL_MS = 1_000;

function inWindow(t, from, to) {
  return t >= from && t < to;
}

describe('Kafka broker stopped for 30 s mid-traffic', { timeout: 240_000 }, () => {
  let broker;
  let gw;
  let monitor;
  let reader;
  const stations = [];
  const phase = {};          // timestamps: trafficStart, stopBegin, stopDone, startBegin, startDone, allAcked
  let scenarioDone = false;
  let preOutageConnected = [];
  // The loops end after the CALL in flight settles (at most its call timeout).
  const settleLoops = async () => {
    let timer;
    await Promise.race([
      Promise.allSettled(stations.map((s) => s.loop)),
      new Promise((r) => { timer = setTimeout(r, CALL_TIMEOUT_MS + 2_000); }),
    ]);
    clearTimeout(timer);
  };
  const logOnFailure = (fn) => withGatewayLog(() => gw, async (t) => {
    try {
      return await fn(t);
    } catch (err) {
      if (broker) process.stderr.write(`\n--- private broker log (${broker.dataDir}) ---\n${broker.logTail(30)}\n`);
      throw err;
    }
  });

  before(async () => {
    broker = await PrivateBroker.create();
    await broker.start();
    // Let the broker create its consumer-offsets topic now (a throw-away
    // consumer group reads the readiness record kafka.sh produced), so the
    // readers after the restart find a group coordinator.
    reader = await new TopicReader({ brokers: broker.brokers }).connect();
    await waitForGroupCoordinator(reader);
    await readToEndRetrying(reader, ['_readiness'], { timeoutMs: 30_000 });
    await reader.close();
    reader = null;
    // A first gateway creates the topics and is stopped again: on topics
    // created moments earlier, the very first record the gateway produces to
    // a partition can go missing without a delivery failure (not what this
    // file is about), so the gateway under test starts on settled topics.
    const creator = await startGateway({ brokers: broker.brokers });
    await creator.stop();
    gw = await startGateway({
      brokers: broker.brokers,
      extraArgs: ['--kafka-property', `message.timeout.ms=${DELIVERY_TIMEOUT_MS}`],
    });
    monitor = new GatewayMonitor(gw, { intervalMs: MONITOR_INTERVAL_MS }).start();
  });

  after(async () => {
    monitor?.stop();
    for (const s of stations) s.abort();
    await settleLoops();
    for (const s of stations) await s.station.client.close({ force: true }).catch(() => {});
    const errors = [];
    try {
      if (gw) {
        if (broker?.started) {
          await gw.stop();
        } else {
          // The scenario failed while the broker was down: a drain would wait
          // for acknowledgements that cannot come.
          gw.failed = true;
          gw.kill();
          await gw.exited;
        }
      }
    } catch (err) {
      errors.push(err);
    }
    await reader?.close();
    // OCPP_TEST_KEEP_LOGS=1 keeps the broker's data directory of a failed run, like the gateway log.
    const keepData = Boolean(gw?.failed) && process.env.OCPP_TEST_KEEP_LOGS === '1';
    if (keepData) process.stderr.write(`\nkept the private broker's data: ${broker.dataDir} (KAFKA_PORT=${broker.port} KAFKA_CONTROLLER_PORT=${broker.controllerPort})\n`);
    const brokerError = await broker?.destroy({ keepData });
    if (brokerError) errors.push(brokerError);
    if (errors.length) throw errors[0];
  });

  test('stations retry through the outage until every message is acknowledged', logOnFailure(async (t) => {
    for (let i = 0; i < STATIONS; i++) {
      const protocol = i % 2 === 0 ? 'ocpp1.6' : 'ocpp2.0.1';
      const s = new RetryingMeterStation({
        endpoint: gw.endpoint,
        identity: uniqueStationId(protocol === 'ocpp1.6' ? 'ITOUT16' : 'ITOUT201'),
        protocol,
        index: i,
        callTimeoutMs: CALL_TIMEOUT_MS,
      });
      stations.push(s);
      await s.connect();
    }
    phase.trafficStart = Date.now();
    for (const s of stations) s.start();

    // Traffic flows for every station before the broker goes away.
    await until(() => stations.every((s) => s.acknowledgedSince(0) >= 3), 15_000, 'every station acknowledged 3 messages');
    // The Connected records (published without an answer to wait for) are on
    // Kafka before the outage; they must survive the broker restart.
    {
      const r = await new TopicReader({ brokers: broker.brokers }).connect();
      try {
        await waitForGroupCoordinator(r);
        const ids = stations.map((s) => s.identity);
        const { records, timedOut } = await retryRead(() => r.waitFor([TOPICS.connections],
          (recs) => ids.every((id) => recs.some((x) => x.key === id && x.value?.type === 'Connected')),
          { key: ids, timeoutMs: 10_000, what: 'Connected records before the outage', allowTimeout: true }));
        preOutageConnected = records.filter((x) => x.value?.type === 'Connected');
        assert.ok(!timedOut, `Connected records before the outage: only ${preOutageConnected.map((x) => x.key).join(', ')}`);
      } finally {
        await r.close();
      }
    }
    const beforeLeft = phase.trafficStart + TRAFFIC_BEFORE_MS - Date.now();
    if (beforeLeft > 0) await new Promise((r) => setTimeout(r, beforeLeft));   // scenario timing
    assert.deepEqual(stations.flatMap((s) => s.failures), [], 'station loops before the outage');

    phase.stopBegin = Date.now();
    await broker.stop();
    phase.stopDone = Date.now();
    assert.equal(await broker.status(), 3, 'the broker must be down');
    // The outage itself: the stations keep sending while the broker is down.
    await new Promise((r) => setTimeout(r, phase.stopDone + OUTAGE_MS - Date.now()));
    assert.ok(gw.running, `the gateway exited during the outage: ${JSON.stringify(gw.exitInfo)}`);
    assert.deepEqual(stations.flatMap((s) => s.failures), [], 'station loops during the outage');

    phase.startBegin = Date.now();
    await broker.start();
    phase.startDone = Date.now();
    for (const s of stations) s.finishAfter(ACKS_AFTER_RESTART, phase.startDone);

    const finished = await awaitLoops(stations, RECOVERY_TIMEOUT_MS, CALL_TIMEOUT_MS + 2_000);
    phase.allAcked = Date.now();

    const unacked = stations.flatMap((s) => s.messages.filter((m) => m.ackedAt === null)
      .map((m) => `${s.identity} marker ${m.marker} (${m.attempts.length} attempts: ${m.attempts.map((a) => a.code ?? 'result').join(',')})`));
    assert.deepEqual(unacked, [], `messages still unacknowledged ${RECOVERY_TIMEOUT_MS} ms after the broker restart`);
    assert.ok(finished, 'station loops did not finish');
    assert.deepEqual(stations.flatMap((s) => s.failures), [], 'station loops');
    assert.ok(gw.running, `the gateway exited: ${JSON.stringify(gw.exitInfo)}`);
    for (const s of stations) {
      assert.equal(s.station.closeInfo, null, `${s.identity} was disconnected: ${JSON.stringify(s.station.closeInfo)}`);
      assert.deepEqual(s.station.strictFailures.map((f) => `${f.method}: ${f.error?.message}`), [], `${s.identity}: strict-mode validation failures`);
      assert.deepEqual(s.station.unexpected, [], `${s.identity}: messages from the gateway that answer no call`);
    }

    // What the stations were told, by phase.
    const all = stations.flatMap((s) => s.attempts());
    const count = (from, to, pred) => all.filter(({ attempt }) => inWindow(attempt.settledAt, from, to) && pred(attempt)).length;
    const isErr = (a) => a.outcome !== 'result';
    const windows = {
      before: [0, phase.stopBegin],
      outage: [phase.stopBegin, phase.startDone],
      after: [phase.startDone, Infinity],
    };
    const byPhase = {};
    for (const [name, [from, to]] of Object.entries(windows)) {
      byPhase[name] = {
        results: count(from, to, (a) => !isErr(a)),
        internalErrors: count(from, to, (a) => a.code === 'InternalError'),
        timeouts: count(from, to, (a) => a.outcome === 'timeout'),
        otherErrors: count(from, to, (a) => isErr(a) && a.code !== 'InternalError' && a.outcome !== 'timeout'),
      };
    }
    const lateResults = all.filter(({ attempt }) => attempt.outcome === 'timeout' && attempt.entry.reply !== undefined).length;
    t.diagnostic(`phases (ms from traffic start): broker stop ${phase.stopBegin - phase.trafficStart}..${phase.stopDone - phase.trafficStart}, `
      + `restart ${phase.startBegin - phase.trafficStart}..${phase.startDone - phase.trafficStart}, all acknowledged ${phase.allAcked - phase.trafficStart} `
      + `(${phase.allAcked - phase.startDone} ms after the restart)`);
    t.diagnostic(`answers by phase: ${JSON.stringify(byPhase)}; CALLRESULTs that came after the station's timeout: ${lateResults}`);
    t.diagnostic(`messages: ${stations.reduce((n, s) => n + s.messages.length, 0)}, attempts: ${all.length}`);
    const errDurations = all.filter(({ attempt }) => isErr(attempt)).map(({ attempt }) => attempt.settledAt - attempt.entry.sentAt).sort((a, b) => a - b);
    if (errDurations.length) {
      t.diagnostic(`CALL to CALLERROR (ms): min ${errDurations[0]}, median ${errDurations[Math.floor(errDurations.length / 2)]}, max ${errDurations.at(-1)}`);
    }

    const outageFailures = byPhase.outage.internalErrors + byPhase.outage.timeouts;
    assert.ok(outageFailures > 0, 'no CALLERROR or timeout during the outage: the outage did not reach the stations');
    // A station sees InternalError (the record was not acknowledged) or, at
    // worst, a timeout; anything else means the gateway misbehaved. After a
    // timeout the gateway may still hold the call, so the retry can meet
    // the one-call-at-a-time rule.
    const odd = all.filter(({ attempt }) => isErr(attempt) && attempt.code !== 'InternalError' && attempt.outcome !== 'timeout');
    const hadTimeout = new Set(all.filter(({ attempt }) => attempt.outcome === 'timeout').map(({ msg }) => msg));
    assert.deepEqual(odd.filter(({ msg }) => !hadTimeout.has(msg)).map(({ attempt }) => `${attempt.code}: ${attempt.entry.error?.description}`), [],
      'CALLERRORs other than InternalError');

    // Every CALLERROR InternalError is counted as a failed message.
    const metrics = (await httpGet(gw.adminUrl('/metrics'))).text;
    const failedMetric = metricValue(metrics.split('\n').filter((l) => /outcome="failed"/.test(l)).join('\n'), 'ocpp_messages_total', null) ?? 0;
    const internalErrors = all.filter(({ attempt }) => attempt.code === 'InternalError').length;
    t.diagnostic(`metrics: ocpp_messages_total{outcome="failed"} ${failedMetric}, `
      + `ocpp_kafka_delivery_failures_total ${metricValue(metrics, 'ocpp_kafka_delivery_failures_total', null)}, `
      + `ocpp_kafka_producer_replacements_total ${metricValue(metrics, 'ocpp_kafka_producer_replacements_total')}`);
    assert.equal(failedMetric, internalErrors, 'ocpp_messages_total{outcome="failed"} must equal the InternalError CALLERRORs the stations received');
    scenarioDone = true;
  }));

  test('every CALLRESULT has its record; every message is stored; eventIds unique; duplicates only after errors', logOnFailure(async (t) => {
    assert.ok(scenarioDone, 'the scenario did not complete');
    reader = await new TopicReader({ brokers: broker.brokers }).connect();
    await waitForGroupCoordinator(reader);
    const ids = stations.map((s) => s.identity);
    // Every CALLRESULT promises a stored record: read to the current end at once.
    const ackedIds = new Set(stations.flatMap((s) => s.attempts().filter(({ attempt }) => attempt.entry.reply !== undefined).map(({ attempt }) => attempt.entry.messageId)));
    const haveAll = (recs) => { const seen = new Set(recs.map((r) => r.value?.messageId)); return [...ackedIds].every((id) => seen.has(id)); };
    let records = await readToEndRetrying(reader, [TOPICS.meterValues], { key: ids, timeoutMs: 60_000 });
    if (!haveAll(records)) {
      // Diagnose the reader against the broker before failing: read again
      // (bounded) and say whether the records show up late or not at all.
      const firstCount = records.length;
      const t0 = Date.now();
      const again = await retryRead(() => reader.waitFor([TOPICS.meterValues], haveAll, { key: ids, timeoutMs: 20_000, allowTimeout: true }));
      t.diagnostic(`first read after the restart: ${firstCount} records, acknowledged ones missing; re-read: ${again.records.length} records, `
        + `${again.timedOut ? 'still incomplete' : `complete after ${Date.now() - t0} ms`}; offsets ${JSON.stringify(await reader.offsets([TOPICS.meterValues]))}`);
      records = again.records;
    }

    const byMessageId = new Map();
    for (const r of records) {
      assert.equal(r.valueError, null, `${r.topic}:${r.offset} is not JSON`);
      const id = r.value.messageId;
      if (!byMessageId.has(id)) byMessageId.set(id, []);
      byMessageId.get(id).push(r);
    }

    const problems = [];
    let persistedErrors = 0;
    const persistedDetail = [];
    let duplicateMarkers = 0;
    let duplicateRecords = 0;
    let markersTotal = 0;
    const allEventIds = new Map();
    for (const s of stations) {
      const version = versionOf(s.protocol);
      const attemptByMessageId = new Map();
      for (const { msg, attempt } of s.attempts()) attemptByMessageId.set(attempt.entry.messageId, { msg, attempt });
      const mine = records.filter((r) => r.key === s.identity);

      // Records: each belongs to one attempt of this station, with that message's payload.
      for (const r of mine) {
        const hit = attemptByMessageId.get(r.value.messageId);
        if (!hit) { problems.push(`${s.identity}: record at offset ${r.offset} (messageId ${r.value.messageId}) matches no CALL the station sent`); continue; }
        if (markerOf(r.value.payload) !== hit.msg.marker) problems.push(`${s.identity}: record at offset ${r.offset}: marker ${markerOf(r.value.payload)} != ${hit.msg.marker}`);
        if (allEventIds.has(r.value.eventId)) problems.push(`eventId ${r.value.eventId} twice: offsets ${allEventIds.get(r.value.eventId)} and ${r.partition}:${r.offset}`);
        allEventIds.set(r.value.eventId, `${r.partition}:${r.offset}`);
      }
      // Per message.
      for (const msg of s.messages) {
        markersTotal++;
        const recs = msg.attempts.flatMap((a) => byMessageId.get(a.entry.messageId) ?? []);
        if (recs.length === 0) { problems.push(`${s.identity}: marker ${msg.marker} is not on ${TOPICS.meterValues} (${msg.attempts.length} attempts)`); continue; }
        const dedupKeys = new Set(recs.map((r) => r.value.dedupKey));
        if (dedupKeys.size !== 1) problems.push(`${s.identity}: marker ${msg.marker}: retries of the same message have different dedupKeys ${[...dedupKeys].join(', ')}`);
        const errored = msg.attempts.filter((a) => a.outcome !== 'result');
        if (recs.length > 1) {
          duplicateMarkers++;
          duplicateRecords += recs.length - 1;
          if (errored.length === 0) problems.push(`${s.identity}: marker ${msg.marker} is on Kafka ${recs.length} times but no attempt was answered with an error`);
        }
        for (const a of msg.attempts) {
          const aRecs = byMessageId.get(a.entry.messageId) ?? [];
          if (aRecs.length > 1) problems.push(`${s.identity}: CALL ${a.entry.messageId} has ${aRecs.length} records`);
          if (a.outcome !== 'result' && aRecs.length > 0) {
            persistedErrors++;
            persistedDetail.push(`${s.identity} marker ${msg.marker}: ${a.code} at +${a.settledAt - phase.trafficStart} ms after ${a.settledAt - a.entry.sentAt} ms, `
              + `record receivedAt ${aRecs[0].value.receivedAt} offset ${aRecs[0].partition}:${aRecs[0].offset}`);
          }
          // A CALLRESULT (even one that came after the station's timeout)
          // promises a stored record carrying exactly that reply.
          if (a.entry.reply !== undefined) {
            if (aRecs.length !== 1) { problems.push(`${s.identity}: marker ${msg.marker}: CALLRESULT for ${a.entry.messageId} at ${new Date(a.entry.repliedAt).toISOString()} but ${aRecs.length} records`); continue; }
            try {
              assertStationEventRecord(aRecs[0], { call: a.entry, stationId: s.identity, version, gatewayId: gw.gatewayId });
            } catch (err) {
              problems.push(`${s.identity}: marker ${msg.marker}: ${err.message.split('\n')[0]}`);
            }
          }
        }
      }
      // One session: sequence numbers follow the offsets of the station's partition.
      const parts = new Set(mine.map((r) => r.partition));
      if (parts.size > 1) problems.push(`${s.identity}: records on partitions ${[...parts].join(', ')}`);
      const seqs = mine.map((r) => r.value.sequence);
      for (let i = 1; i < seqs.length; i++) {
        if (!(seqs[i] > seqs[i - 1])) { problems.push(`${s.identity}: sequence ${seqs[i]} at offset ${mine[i].offset} after ${seqs[i - 1]} (records out of order)`); break; }
      }
      const sessions = new Set(mine.map((r) => r.value.sessionId));
      if (sessions.size !== 1) problems.push(`${s.identity}: ${sessions.size} sessionIds`);
    }
    t.diagnostic(`records: ${records.length} for ${markersTotal} messages; markers on Kafka more than once: ${duplicateMarkers} `
      + `(${duplicateRecords} extra records); attempts answered with an error whose record was stored anyway: ${persistedErrors}`);
    for (const d of persistedDetail) t.diagnostic(`stored although answered with an error: ${d}`);
    assert.deepEqual(problems.slice(0, 50), [], `${problems.length} problems`);

    // The connections stayed up: one Connected each (the very records that
    // were on Kafka before the outage), no Disconnected.
    const allConnected = (recs) => preOutageConnected.every((p) => recs.some((r) => r.partition === p.partition && r.offset === p.offset));
    let conns = await readToEndRetrying(reader, [TOPICS.connections], { key: ids, timeoutMs: 30_000 });
    if (!allConnected(conns)) {
      const firstKeys = conns.filter((r) => r.value?.type === 'Connected').map((r) => `${r.key}@${r.partition}:${r.offset}`);
      const t0 = Date.now();
      const again = await retryRead(() => reader.waitFor([TOPICS.connections], allConnected, { key: ids, timeoutMs: 20_000, allowTimeout: true }));
      t.diagnostic(`Connected records before the outage: ${preOutageConnected.map((r) => `${r.key}@${r.partition}:${r.offset}`).join(', ')}; `
        + `first read after the restart: ${firstKeys.join(', ')}; re-read ${again.timedOut ? 'still incomplete' : `complete after ${Date.now() - t0} ms`}; `
        + `offsets ${JSON.stringify(await reader.offsets([TOPICS.connections]))}`);
      conns = again.records;
    }
    for (const s of stations) {
      const mine = conns.filter((r) => r.key === s.identity);
      const sessionId = records.find((r) => r.key === s.identity)?.value.sessionId;
      const { connected, disconnected } = connectionRecords(mine, sessionId);
      assert.equal(connected.length, 1, `${s.identity}: Connected records`);
      assert.equal(disconnected.length, 0, `${s.identity}: the station was never disconnected, yet a Disconnected record exists`);
    }
    const dead = await readToEndRetrying(reader, [TOPICS.deadLetter], { key: ids, timeoutMs: 30_000 });
    assert.deepEqual(dead.map((r) => r.text), [], 'dead-letter records for well-behaved stations');
  }));

  test('/readyz: 503 during the outage, 200 again after the restart', logOnFailure(async (t) => {
    assert.ok(scenarioDone, 'the scenario did not complete');
    const during = monitor.between(phase.stopBegin, phase.startDone);
    const firstNotReady = during.find((s) => s.ready === 503);
    const beforeSamples = monitor.between(0, phase.stopBegin);
    assert.ok(beforeSamples.length > 0 && beforeSamples.every((s) => s.ready === 200),
      `/readyz before the outage: ${JSON.stringify(beforeSamples.map((s) => s.ready))}`);
    assert.ok(firstNotReady, `/readyz never said 503 during the outage: ${JSON.stringify(during.map((s) => s.ready))}`);
    const readyAgain = await monitor.waitFor((s) => s.ready === 200, { since: phase.startDone, timeoutMs: 30_000, what: '/readyz 200 after the restart' });
    t.diagnostic(`/readyz: first 503 ${firstNotReady.t - phase.stopBegin} ms after the broker stop began (${firstNotReady.t - phase.stopDone} ms after it was down); `
      + `200 again ${readyAgain.t - phase.startDone} ms after the broker was ready; outage samples ${JSON.stringify(summariseReady(during))}`);
    const afterRecovery = monitor.between(readyAgain.t);
    assert.ok(afterRecovery.every((s) => s.ready === 200), `/readyz flapped after the recovery: ${JSON.stringify(afterRecovery.map((s) => s.ready))}`);
  }));

  test(`gateway memory stays below ${RSS_BOUND_MIB} MiB during the outage`, logOnFailure(async (t) => {
    assert.ok(scenarioDone, 'the scenario did not complete');
    const before = rssSummary(monitor.between(phase.trafficStart, phase.stopBegin));
    const during = rssSummary(monitor.between(phase.stopBegin, phase.startDone));
    const afterS = rssSummary(monitor.between(phase.startDone));
    t.diagnostic(`RSS (MiB) before ${JSON.stringify(before)}`);
    t.diagnostic(`RSS (MiB) during ${JSON.stringify(during)}`);
    t.diagnostic(`RSS (MiB) after ${JSON.stringify(afterS)}`);
    assert.ok(during && during.n >= OUTAGE_MS / MONITOR_INTERVAL_MS / 2, `too few RSS samples during the outage: ${JSON.stringify(during)}`);
    assert.ok(during.maxMiB < RSS_BOUND_MIB, `gateway RSS reached ${during.maxMiB} MiB during the outage (bound ${RSS_BOUND_MIB} MiB)`);
    assert.ok(afterS === null || afterS.maxMiB < RSS_BOUND_MIB, `gateway RSS reached ${afterS?.maxMiB} MiB after the outage`);
    assert.ok(gw.running, 'the gateway is still running');
  }));
});

/** Run-length summary of /readyz samples, e.g. [[200, 3], [503, 28]]. */
function summariseReady(samples) {
  const out = [];
  for (const s of samples) {
    if (out.length && out.at(-1)[0] === s.ready) out.at(-1)[1]++;
    else out.push([s.ready, 1]);
  }
  return out;
}
