#!/usr/bin/env node
// What the operator's decisions cost a station (README "Authorization and boot decisions"):
//
//   table:  Authorize answered from the token table against Heartbeat at the same rates, one
//           gateway, every station's token listed (no extra Kafka round trip is expected:
//           both are one record and one ack);
//   ask:    Authorize in ask mode (ask: always) with an operator that answers every question
//           at once (a kafkajs consumer of the request topic writing decisions), at the same
//           rates: the added latency of the question's round trip through Kafka.
//
//   node bench/decisions-bench.mjs --stations N --rates 100,1000 --duration S
//
// Starts the gateways itself (lib/gateway.mjs: OCPP_GATEWAY_BIN, OCPP_TEST_KAFKA_BROKERS) and
// runs OCPP_LOADGEN_BIN (open loop, latency from the scheduled send). Prints one JSON object
// per run on stdout and a table on stderr.

import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';

import { startGateway, httpGet, randomHex, KAFKA_BROKERS } from '../lib/gateway.mjs';
import { metricValue } from '../lib/monitor.mjs';
import { REPO_ROOT } from '../lib/paths.mjs';

const { values: opt } = parseArgs({
  options: {
    stations: { type: 'string', default: '200' },
    rates: { type: 'string', default: '100,1000' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
  },
  strict: true,
});
const stations = Number(opt.stations);
const rates = opt.rates.split(',').map(Number);
const duration = Number(opt.duration);
const warmup = Number(opt.warmup);
if (![stations, duration, ...rates].every((v) => Number.isFinite(v) && v > 0)) {
  process.stderr.write('usage: node bench/decisions-bench.mjs --stations N --rates R1,R2 --duration S\n');
  process.exit(2);
}

const LOADGEN_BIN = process.env.OCPP_LOADGEN_BIN || join(REPO_ROOT, 'build', 'bin', 'ocpp-loadgen');

// The loadgen's token of station n (tools/loadgen/payloads.cpp token_for).
const tokenOf = (n) => `04A2${n.toString(16).toUpperCase().padStart(10, '0')}`;

// Asynchronous: the operator answering questions runs in this process's event loop.
function loadgen(gw, mix, rate) {
  return new Promise((resolve, reject) => {
    const child = spawn(LOADGEN_BIN, [
      '--url', gw.endpoint, '--stations', String(stations), '--rate', String(rate), '--mix', mix,
      '--duration', String(duration), '--warmup', String(warmup), '--json',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`ocpp-loadgen failed (${code}): ${err}`))));
  });
}

const kafka = new Kafka({ clientId: 'ocpp-bench-decisions', brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
const producer = kafka.producer();
await producer.connect();
const tag = randomHex(4);
const dir = mkdtempSync(join(tmpdir(), 'ocpp-bench-decisions-'));
const results = [];
let table;
let ask;
let operator;
try {
  table = await startGateway({ extraArgs: ['--log-level', 'warn'] });
  const listed = metricValue((await httpGet(table.adminUrl('/metrics'))).text, 'ocpp_id_tokens') ?? 0;
  const messages = [];
  for (let n = 1; n <= stations; n++) messages.push({ key: tokenOf(n), value: JSON.stringify({ status: 'Accepted' }) });
  await producer.send({ topic: 'ocpp.id-tokens', acks: -1, messages });
  // Tokens of earlier runs are the same keys: the table grows by at most `stations`.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const now = metricValue((await httpGet(table.adminUrl('/metrics'))).text, 'ocpp_id_token_last_record_age_seconds');
    if ((now ?? Infinity) < 5 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));  // the table's age is only observable by asking again
  }
  process.stderr.write(`token table: ${listed} entries before, ${stations} tokens written\n`);
  for (const rate of rates) {
    for (const mix of ['heartbeat', 'authorize']) {
      const r = await loadgen(table, mix, rate);
      results.push({ path: mix === 'heartbeat' ? 'heartbeat' : 'table', rate, report: r });
    }
  }
  await table.stop();
  table = null;

  const topics = { requests: `bench-ask-${tag}.requests`, decisions: `bench-ask-${tag}.decisions` };
  const configFile = join(dir, 'gateway.yaml');
  writeFileSync(configFile, ['reply:', '  authorize:', '    ask: always', 'topics:',
    `  authorization_requests: ${topics.requests}`, `  authorization_decisions: ${topics.decisions}`, ''].join('\n'));
  ask = await startGateway({ extraArgs: ['--config', configFile, '--log-level', 'warn'] });
  operator = kafka.consumer({ groupId: `bench-ask-${tag}`, maxWaitTimeInMs: 100 });
  await operator.connect();
  await operator.subscribe({ topic: topics.requests, fromBeginning: true });
  const joined = new Promise((resolve) => operator.on(operator.events.GROUP_JOIN, resolve));
  await operator.run({
    eachBatch: async ({ batch }) => {
      const decisions = batch.messages.map((m) => {
        const q = JSON.parse(m.value.toString());
        return { key: q.requestId, value: JSON.stringify({ requestId: q.requestId, status: 'Accepted' }) };
      });
      await producer.send({ topic: topics.decisions, acks: -1, messages: decisions });
    },
  });
  await joined;
  for (const rate of rates) {
    const r = await loadgen(ask, 'authorize', rate);
    const m = (await httpGet(ask.adminUrl('/metrics'))).text;
    results.push({ path: 'ask', rate, report: r, askTimeouts: metricValue(m, 'ocpp_ask_timeouts_total') });
  }
} finally {
  await operator?.disconnect().catch(() => {});
  await producer.disconnect().catch(() => {});
  await table?.stop();
  await ask?.stop();
  rmSync(dir, { recursive: true, force: true });
}

process.stderr.write('| path | rate/s | answered | errors+timeouts | ask time-outs | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|---|---|---|\n');
for (const { path, rate, report, askTimeouts } of results) {
  const l = report.latency_ms;
  const c = report.calls;
  process.stdout.write(`${JSON.stringify({ path, rate, stations, duration, answered: c.call_results, callErrors: c.call_errors, timeouts: c.timeouts, skipped: c.skipped, latencyMs: l, askTimeouts })}\n`);
  process.stderr.write(`| ${path} | ${rate} | ${c.call_results} | ${c.call_errors + c.timeouts} | ${askTimeouts ?? '—'} | ${l.p50} | ${l.p95} | ${l.p99} |\n`);
}
