// The reference billing consumer (tools/billing, `ocpp-billing`) downstream of a real gateway:
// its sessions topic must equal an oracle computed here from what the stations sent, after
// (a) stations resending messages, (b) SIGKILL of the consumer mid-stream and a restart, and
// (c) a 1.6 station that lost its StartTransaction answer and started again (two
// transactionIds, one dedupKey) — with every record read read_committed.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startGateway, randomHex, uniqueStationId, KAFKA_BROKERS } from '../lib/gateway.mjs';
import { connectStation, closeStations } from '../lib/commands.mjs';
import { REPO_ROOT } from '../lib/paths.mjs';
import { assertSchema } from '../lib/schemas.mjs';
import { eventually } from '../lib/until.mjs';

const BILLING_BIN = process.env.OCPP_BILLING_BIN || join(REPO_ROOT, 'build', 'bin', 'ocpp-billing');
const BASE = Date.parse('2026-11-30T08:00:00.000Z');
const at = (minutes) => new Date(BASE + minutes * 60_000).toISOString();

describe('ocpp-billing: one record per charging session, exactly once', () => {
  const tag = randomHex(4);
  const topics = { transactions: `it-bill-${tag}.transactions`, meterValues: `it-bill-${tag}.meter-values`, sessions: `it-bill-${tag}.sessions` };
  const group = `it-bill-${tag}`;
  let dir;
  let gw;
  let kafka;
  let admin;
  let reader;
  let billing;
  let billingLog = '';
  const sessions = new Map();   // what the sessions topic says, key -> record
  const oracle = new Map();     // what it must say
  const stations = [];

  const startBilling = () => {
    billing = spawn(BILLING_BIN, ['--brokers', KAFKA_BROKERS, '--group', group, '--transactions-topic', topics.transactions,
      '--meter-values-topic', topics.meterValues, '--sessions-topic', topics.sessions], { stdio: ['ignore', 'ignore', 'pipe'] });
    billing.stderr.on('data', (d) => { billingLog += d; });
    return billing;
  };
  const station = async (protocol) => {
    const client = await connectStation({ port: gw.port, stationId: uniqueStationId('ITBILL'), protocol });
    stations.push(client);
    return client;
  };
  /** A 1.6 session; `resend` sends each MeterValues twice; `lostStart` sends the start twice. */
  const session16 = async (client, { minute, startWh, readings, stopWh, resend = false, lostStart = false }) => {
    const start = { connectorId: 1, idTag: `TAG${tag}`, meterStart: startWh, timestamp: at(minute) };
    const ids = [(await client.call('StartTransaction', start)).transactionId];
    if (lostStart) ids.push((await client.call('StartTransaction', start)).transactionId);
    const tx = ids[ids.length - 1];  // the answer the station got
    for (const [i, wh] of readings.entries()) {
      const mv = { connectorId: 1, transactionId: tx, meterValue: [{ timestamp: at(minute + i + 1), sampledValue: [{ value: String(wh), unit: 'Wh' }] }] };
      await client.call('MeterValues', mv);
      if (resend) await client.call('MeterValues', mv);
    }
    await client.call('StopTransaction', { transactionId: tx, meterStop: stopWh, timestamp: at(minute + 30), reason: 'EVDisconnected' });
    const sorted = ids.map(String).sort((a, b) => Number(a) - Number(b));
    oracle.set(`${client.identity}|${sorted[0]}`, {
      stationId: client.identity, ocppVersion: '1.6', transactionIds: sorted, connectorId: 1, evseId: null, idToken: `TAG${tag}`,
      startedAt: at(minute), stoppedAt: at(minute + 30), energyWh: stopWh - startWh, status: 'closed', stopReason: 'EVDisconnected',
    });
  };
  const session201 = async (client, { minute, kwh, resend = false }) => {
    const txId = `TX-${randomHex(4)}`;
    const te = (eventType, seqNo, m, value, extra = {}) => ({
      eventType, timestamp: at(m), triggerReason: eventType === 'Started' ? 'Authorized' : eventType === 'Ended' ? 'EVCommunicationLost' : 'MeterValuePeriodic',
      seqNo, transactionInfo: { transactionId: txId, ...extra }, evse: { id: 1, connectorId: 1 },
      ...(eventType === 'Started' ? { idToken: { idToken: `TOK${tag}`, type: 'ISO14443' } } : {}),
      meterValue: [{ timestamp: at(m), sampledValue: [{ value, unitOfMeasure: { unit: 'kWh' } }] }],
    });
    await client.call('TransactionEvent', te('Started', 0, minute, kwh[0]));
    await client.call('TransactionEvent', te('Updated', 1, minute + 5, kwh[1]));
    // A resend after a lost answer: same seqNo, the timestamp refreshed by the firmware.
    if (resend) await client.call('TransactionEvent', te('Updated', 1, minute + 6, kwh[1]));
    await client.call('TransactionEvent', te('Ended', 2, minute + 20, kwh[2], { stoppedReason: 'EVDisconnected' }));
    oracle.set(`${client.identity}|${txId}`, {
      stationId: client.identity, ocppVersion: '2.0.1', transactionIds: [txId], connectorId: 1, evseId: 1, idToken: `TOK${tag}`,
      startedAt: at(minute), stoppedAt: at(minute + 20), energyWh: Math.round((kwh[2] - kwh[0]) * 1000), status: 'closed',
      stopReason: 'EVDisconnected', seqNos: [[0, 2]],
    });
  };
  const differences = () => {
    const out = [];
    for (const [key, want] of oracle) {
      const got = sessions.get(key);
      if (!got) { out.push(`${key}: missing`); continue; }
      for (const [field, value] of Object.entries(want)) {
        const have = field === 'energyWh' ? Math.round(got[field]) : got[field];
        if (JSON.stringify(have) !== JSON.stringify(value)) out.push(`${key}.${field}: ${JSON.stringify(have)} != ${JSON.stringify(value)}`);
      }
    }
    for (const key of sessions.keys()) if (!oracle.has(key)) out.push(`${key}: not expected`);
    return out;
  };
  const matchesOracle = async (what) => {
    try {
      await eventually(async () => differences().length === 0, 60_000, what);
    } catch (err) {
      throw new Error(`${err.message}\n${differences().join('\n')}\n--- ocpp-billing ---\n${billingLog}`);
    }
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ocpp-billing-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, ['topics:', `  transaction: ${topics.transactions}`, `  metering: ${topics.meterValues}`, 'reply:', '  authorize:', '    unknown_tokens: Accepted', ''].join('\n'));
    gw = await startGateway({ extraArgs: ['--config', file] });
    kafka = new Kafka({ clientId: 'ocpp-interop-billing', brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
    startBilling();
    // The sessions topic as a reader sees it: read_committed, the last record per key.
    await eventually(async () => (await admin.listTopics()).includes(topics.sessions), 30_000, `the sessions topic created (${billingLog})`);
    reader = kafka.consumer({ groupId: `it-bill-reader-${tag}`, readUncommitted: false });
    await reader.connect();
    await reader.subscribe({ topic: topics.sessions, fromBeginning: true });
    await reader.run({ eachMessage: async ({ message }) => {
      const key = message.key.toString();
      if (message.value === null) { sessions.delete(key); return; }
      const value = JSON.parse(message.value.toString());
      assertSchema('billingSession', value, `session ${key}`);
      sessions.set(key, value);
    } });
  });

  after(async () => {
    billing?.kill('SIGKILL');
    await closeStations(stations);
    await gw?.stop();
    await reader?.disconnect();
    await admin?.deleteGroups([group, `it-bill-reader-${tag}`, `${group}-restore`]).catch(() => {});
    await admin?.deleteTopics({ topics: Object.values(topics) }).catch(() => {});
    await admin?.disconnect();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('resent messages are billed once (1.6 and 2.0.1)', async () => {
    const a = await station('ocpp1.6');
    const b = await station('ocpp2.0.1');
    await session16(a, { minute: 0, startWh: 1000, readings: [1400, 1800], stopWh: 2100, resend: true });
    await session201(b, { minute: 0, kwh: [10, 10.5, 11.25], resend: true });
    await matchesOracle('the sessions billed once');
  });

  test('a 1.6 station that lost its StartTransaction answer: two transaction ids, one session', async () => {
    const a = await station('ocpp1.6');
    await session16(a, { minute: 60, startWh: 5000, readings: [5500], stopWh: 6000, lostStart: true });
    await matchesOracle('one session for both starts');
    const record = [...sessions.values()].find((s) => s.stationId === a.identity);
    assert.equal(record.transactionIds.length, 2);
  });

  test('SIGKILL mid-stream and a restart: the output still equals the oracle', async () => {
    const fleet = [];
    for (let i = 0; i < 4; i++) fleet.push(await station('ocpp1.6'));
    fleet.push(await station('ocpp2.0.1'));
    const traffic = (async () => {
      for (let round = 0; round < 6; round++) {
        await Promise.all(fleet.map((c) => (c.protocol === 'ocpp2.0.1'
          ? session201(c, { minute: 120 + round * 40, kwh: [20 + round, 20.5 + round, 21 + round] })
          : session16(c, { minute: 120 + round * 40, startWh: 100 * round, readings: [100 * round + 40, 100 * round + 70], stopWh: 100 * round + 90, resend: round % 2 === 1 }))));
      }
    })();
    // Kill it while the stream runs, once it has billed something of it.
    await eventually(async () => [...sessions.values()].some((s) => fleet.some((c) => c.identity === s.stationId)), 30_000, 'billing under way');
    billing.kill('SIGKILL');
    await new Promise((r) => billing.once('exit', r));
    billingLog += '--- killed, restarted ---\n';
    startBilling();
    await traffic;
    await matchesOracle('the output after the restart');
    assert.match(billingLog, /restored \d+ session record/);
  });
});
