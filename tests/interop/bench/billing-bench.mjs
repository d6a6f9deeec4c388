#!/usr/bin/env node
// How fast ocpp-billing recovers from a backlog (docs/contract.md "Billing"): a fleet's
// charging traffic for --minutes at --rate messages per second is written to the transaction
// and meter-value topics as the gateway writes it (station events of OCPP 1.6 sessions:
// StartTransaction, MeterValues every --interval seconds with five samples, StopTransaction),
// while billing is stopped; then ocpp-billing starts and the time until its group has
// committed everything is measured (records/s, and how many times faster than real time).
// A second start, once caught up, measures the restart: reading the sessions topic back.
//
//   node bench/billing-bench.mjs --rate 2000 --minutes 10 --stations 2000
//
// OCPP_BILLING_BIN, OCPP_TEST_KAFKA_BROKERS. One JSON object on stdout, a summary on stderr.
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel, CompressionTypes } from 'kafkajs';
import { KAFKA_BROKERS } from '../lib/gateway.mjs';
import { REPO_ROOT } from '../lib/paths.mjs';

const { values: opt } = parseArgs({
  options: {
    rate: { type: 'string', default: '2000' },
    minutes: { type: 'string', default: '10' },
    stations: { type: 'string', default: '2000' },
    interval: { type: 'string', default: '60' },
    'session-minutes': { type: 'string', default: '30' },
    partitions: { type: 'string', default: '3' },
  },
  strict: true,
});
const rate = Number(opt.rate);
const seconds = Number(opt.minutes) * 60;
const stations = Number(opt.stations);
const BILLING_BIN = process.env.OCPP_BILLING_BIN || join(REPO_ROOT, 'build', 'bin', 'ocpp-billing');
const tag = randomBytes(4).toString('hex');
const topics = { transactions: `bench-bill-${tag}.transactions`, meterValues: `bench-bill-${tag}.meter-values`, sessions: `bench-bill-${tag}.sessions` };
const group = `bench-bill-${tag}`;

const kafka = new Kafka({ clientId: 'ocpp-bench-billing', brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ waitForLeaders: true, topics: [topics.transactions, topics.meterValues].map((topic) => ({ topic, numPartitions: Number(opt.partitions) })) });

// The fleet: every station charges back to back; a session lasts --session-minutes with a
// MeterValues every --interval seconds. Time is simulated: the backlog is `seconds` of it,
// at `rate` messages per second across the fleet.
const base = Date.now() - seconds * 1000;
let nextTx = 1;
const fleet = Array.from({ length: stations }, (_, i) => ({ id: `BB${String(i).padStart(6, '0')}`, tx: null, wh: 0, sequence: 0, started: 0 }));
const event = (st, action, payload, reply, atMs) => {
  st.sequence += 1;
  const text = JSON.stringify(payload);
  return {
    key: st.id,
    value: JSON.stringify({
      eventId: randomBytes(16).toString('hex'), dedupKey: createHash('sha256').update(`${st.id}|${action}|${text}`).digest('hex'),
      stationId: st.id, ocppVersion: '1.6', action, messageId: String(st.sequence), eventClass: action === 'MeterValues' ? 'metering' : 'transaction',
      receivedAt: new Date(atMs).toISOString(), gatewayId: 'bench', sessionId: `${st.id}-s`, sequence: st.sequence, payload, reply,
    }),
  };
};
const meter = (st, atMs) => ({
  connectorId: 1, transactionId: st.tx,
  meterValue: [{ timestamp: new Date(atMs).toISOString(), sampledValue: [
    { value: st.wh.toFixed(1), measurand: 'Energy.Active.Import.Register', unit: 'Wh', format: 'Raw' },
    { value: '7200.0', measurand: 'Power.Active.Import', unit: 'W' },
    { value: '10.40', measurand: 'Current.Import', unit: 'A', phase: 'L1' },
    { value: '10.50', measurand: 'Current.Import', unit: 'A', phase: 'L2' },
    { value: '10.30', measurand: 'Current.Import', unit: 'A', phase: 'L3' }] }],
});
function next(st, atMs) {
  if (st.tx === null) {
    st.tx = nextTx++;
    st.started = atMs;
    return [topics.transactions, event(st, 'StartTransaction', { connectorId: 1, idTag: `CARD${st.id}`, meterStart: Math.round(st.wh), timestamp: new Date(atMs).toISOString() },
      { transactionId: st.tx, idTagInfo: { status: 'Accepted' } }, atMs)];
  }
  st.wh += 7200 / 3600 * Number(opt.interval);
  if (atMs - st.started >= Number(opt['session-minutes']) * 60_000) {
    const stop = event(st, 'StopTransaction', { transactionId: st.tx, meterStop: Math.round(st.wh), timestamp: new Date(atMs).toISOString(), reason: 'EVDisconnected' }, { idTagInfo: { status: 'Accepted' } }, atMs);
    st.tx = null;
    return [topics.transactions, stop];
  }
  return [topics.meterValues, event(st, 'MeterValues', meter(st, atMs), {}, atMs)];
}

const producer = kafka.producer({ allowAutoTopicCreation: false });
await producer.connect();
const total = rate * seconds;
const writeStarted = Date.now();
let written = 0;
let perTopic = { [topics.transactions]: 0, [topics.meterValues]: 0 };
while (written < total) {
  const batch = { [topics.transactions]: [], [topics.meterValues]: [] };
  for (let i = 0; i < 1000 && written < total; i++, written++) {
    const st = fleet[written % stations];
    const [topic, record] = next(st, base + Math.floor(written / rate) * 1000);
    batch[topic].push(record);
    perTopic[topic] += 1;
  }
  await producer.sendBatch({ acks: -1, compression: CompressionTypes.None,
    topicMessages: Object.entries(batch).filter(([, m]) => m.length > 0).map(([topic, messages]) => ({ topic, messages })) });
}
await producer.disconnect();
const writeSeconds = (Date.now() - writeStarted) / 1000;
process.stderr.write(`backlog: ${total} records (${perTopic[topics.transactions]} transaction, ${perTopic[topics.meterValues]} meter values) written in ${writeSeconds.toFixed(1)} s\n`);

const cpu = (pid) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / 100; };
async function committed() {
  let n = 0;
  for (const topic of [topics.transactions, topics.meterValues]) {
    for (const p of (await admin.fetchOffsets({ groupId: group, topics: [topic] }))[0].partitions) n += Math.max(Number(p.offset), 0);
  }
  return n;
}
async function run(label) {
  const started = Date.now();
  let log = '';
  const child = spawn(BILLING_BIN, ['--brokers', KAFKA_BROKERS, '--group', group, '--transactions-topic', topics.transactions,
    '--meter-values-topic', topics.meterValues, '--sessions-topic', topics.sessions], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.on('data', (d) => { log += d; });
  let restoredAt = null;
  let lastCpu = 0;
  // The restart has nothing to consume: it is done once it has read its state back.
  while (label === 'restart' ? !/restored/.test(log) : (await committed()) < total) {
    if (child.exitCode !== null) throw new Error(`ocpp-billing exited: ${log}`);
    if (restoredAt === null && /restored/.test(log)) restoredAt = Date.now();
    lastCpu = cpu(child.pid);
    await new Promise((r) => setTimeout(r, 200));
  }
  if (restoredAt === null && /restored/.test(log)) restoredAt = Date.now();
  const took = (Date.now() - started) / 1000;
  lastCpu = cpu(child.pid);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  // "restored R session record(s): M session(s) in memory, T retired" (before retirement:
  // "restored R session record(s), S session(s)").
  const restore = /restored (\d+) session record\(s\)(?:: (\d+) session\(s\) in memory, (\d+) retired|, (\d+) session)/.exec(log);
  return { label, seconds: took, cpuSeconds: lastCpu, restoreSeconds: restoredAt ? (restoredAt - started) / 1000 : null,
    restoredRecords: restore ? Number(restore[1]) : null, restoredSessions: restore ? Number(restore[4] ?? Number(restore[2]) + Number(restore[3])) : null };
}

const catchUp = await run('backlog');
const restart = await run('restart');
const result = {
  rate, minutes: seconds / 60, stations, records: total, writeSeconds,
  catchUpSeconds: catchUp.seconds, recordsPerSecond: Math.round(total / catchUp.seconds), timesRealTime: Number((seconds / catchUp.seconds).toFixed(1)),
  billingCpuSeconds: catchUp.cpuSeconds, cpuMicrosPerRecord: Math.round(catchUp.cpuSeconds * 1e6 / total),
  restartSeconds: restart.seconds, restoredRecords: restart.restoredRecords, restoredSessions: restart.restoredSessions,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
process.stderr.write(`catch-up: ${total} records in ${catchUp.seconds.toFixed(1)} s = ${result.recordsPerSecond}/s, ${result.timesRealTime}x real time; ` +
  `billing CPU ${catchUp.cpuSeconds.toFixed(1)} s (${result.cpuMicrosPerRecord} us/record); restart: ${restart.restoredRecords} records / ${restart.restoredSessions} sessions read back, ${restart.seconds.toFixed(1)} s\n`);
await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => {});
await admin.deleteGroups([group, `${group}-restore`]).catch(() => {});
await admin.disconnect();
