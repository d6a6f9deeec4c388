#!/usr/bin/env node
// Operator-command round trip: a steady open-loop stream of commands to
// stations that answer at once, through ocpp.commands or through REST.
//
//   node bench/commands-bench.mjs --instances 1|3 --stations N --rate R --duration S --path topic|rest
//
// Starts the gateway instances itself (lib/gateway.mjs: OCPP_GATEWAY_BIN,
// OCPP_TEST_KAFKA_BROKERS), connects N stations (half OCPP 1.6, half 2.0.1,
// round-robin over the instances; no strict-mode validation, to keep this
// process light), waits until every instance's presence table shows them,
// sends unmeasured warm-up commands, then R commands per second for S
// seconds on a fixed schedule (command i is due at start + i/R, whether or
// not earlier ones have finished). Round trip: from the send (topic: the
// produce call; rest: the HTTP request) to the result record seen on
// ocpp.command-results (topic) or the REST response (rest). Prints one JSON
// object on stdout; progress goes to stderr.
//
// Other options: --warmup S (3), --drain S (30: how long to wait for the
// last results), --brokers LIST, --log-level LEVEL (warn; the gateways'),
// --gateway-arg ARG (repeatable, passed to every instance).

import { parseArgs } from 'node:util';
import rpc from 'ocpp-rpc';

import { startGateway, uniqueStationId, randomHex, KAFKA_BROKERS } from '../lib/gateway.mjs';
import { CommandClient, restCall, restGet } from '../lib/commands.mjs';

const { RPCClient } = rpc;

const { values: opt } = parseArgs({
  options: {
    instances: { type: 'string', default: '1' },
    stations: { type: 'string', default: '100' },
    rate: { type: 'string', default: '100' },
    duration: { type: 'string', default: '30' },
    path: { type: 'string', default: 'topic' },
    warmup: { type: 'string', default: '3' },
    drain: { type: 'string', default: '30' },
    brokers: { type: 'string', default: KAFKA_BROKERS },
    'log-level': { type: 'string', default: 'warn' },
    'gateway-arg': { type: 'string', multiple: true, default: [] },
  },
  strict: true,
});

const instances = Number(opt.instances);
const stationCount = Number(opt.stations);
const rate = Number(opt.rate);
const duration = Number(opt.duration);
const warmup = Number(opt.warmup);
const drainMs = Number(opt.drain) * 1000;
const path = opt.path;
for (const [name, v] of Object.entries({ instances, stations: stationCount, rate, duration })) {
  if (!Number.isFinite(v) || v <= 0) usage(`--${name} must be a positive number`);
}
if (!Number.isFinite(warmup) || warmup < 0 || !Number.isFinite(drainMs) || drainMs <= 0) usage('--warmup / --drain must be numbers of seconds');
if (path !== 'topic' && path !== 'rest') usage('--path must be topic or rest');

function usage(msg) {
  process.stderr.write(`commands-bench: ${msg}\nusage: node bench/commands-bench.mjs --instances 1|3 --stations N --rate R --duration S --path topic|rest\n`);
  process.exit(2);
}

const log = (msg) => process.stderr.write(`commands-bench: ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const versionOf = (protocol) => (protocol === 'ocpp1.6' ? '1.6' : '2.0.1');

const runId = randomHex(4);
const gateways = [];
const clients = [];
let commands = null;

function answer(method, params) {
  switch (method) {
    case 'GetConfiguration': return { configurationKey: (params.key ?? []).map((key) => ({ key, readonly: false, value: '300' })), unknownKey: [] };
    case 'GetVariables': return { getVariableResult: params.getVariableData.map((d) => ({ attributeStatus: 'Accepted', component: d.component, variable: d.variable, attributeValue: '300' })) };
    default: throw rpc.createRPCError('NotImplemented', method);
  }
}

function commandFor(station) {
  return station.protocol === 'ocpp1.6'
    ? ['GetConfiguration', { key: ['HeartbeatInterval'] }]
    : ['GetVariables', { getVariableData: [{ component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } }] }];
}

async function connectStation(station) {
  const c = new RPCClient({
    endpoint: station.gw.endpoint,
    identity: station.identity,
    protocols: [station.protocol],
    strictMode: false,
    reconnect: false,
    callTimeoutMs: 30_000,
    pingIntervalMs: 0,
  });
  c.handle(({ method, params }) => answer(method, params));
  c.on('close', (info) => { if (!shuttingDown) log(`station ${station.identity} closed: ${JSON.stringify(info)}`); });
  await c.connect();
  clients.push(c);
}

/** Polls GET /v1/stations on every instance until all stations are listed on their instance. */
async function waitPresence(stations, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  const want = new Map(stations.map((s) => [s.identity.toLowerCase(), s.gw.gatewayId]));
  let missing = want.size;
  while (Date.now() < deadline) {
    missing = 0;
    for (const gw of gateways) {
      const r = await restGet(gw.adminPort, '/v1/stations');
      const have = new Map((r.body?.stations ?? []).filter((x) => x.connected !== false).map((x) => [String(x.stationId).toLowerCase(), x.gatewayId]));
      for (const [id, g] of want) if (have.get(id) !== g) missing++;
    }
    if (missing === 0) return;
    await sleep(250);
  }
  throw new Error(`presence not complete within ${timeoutMs} ms (${missing} instance/station pairs missing)`);
}

let seq = 0;
/** One command; resolves {status, ms} (status: the result's, or 'noResult' / 'HTTP nnn'). */
async function roundTrip(station, gwForRest) {
  const [action, payload] = commandFor(station);
  const commandId = `bench-${runId}-${seq++}`;
  const t0 = performance.now();
  try {
    if (path === 'topic') {
      await commands.send({ commandId, stationId: station.identity, action, payload });
      const result = await commands.waitResult(commandId, { timeoutMs: drainMs + duration * 1000 });
      return { status: result?.status ?? 'noResult', ms: performance.now() - t0 };
    }
    const r = await restCall(gwForRest.adminPort, station.identity, action, payload, { query: { commandId }, timeoutMs: drainMs + duration * 1000 });
    return { status: r.status === 200 ? (r.body?.status ?? 'noStatus') : `HTTP ${r.status}`, ms: performance.now() - t0 };
  } catch (err) {
    return { status: /timed? ?out|within/i.test(err.message) ? 'noResult' : `error: ${err.message.slice(0, 80)}`, ms: performance.now() - t0 };
  }
}

/**
 * R commands per second for `seconds` on a fixed schedule; resolves the
 * outcomes that arrived within the drain time after the last send, how many
 * did not, and the schedule lag (how late each send started).
 */
async function openLoop(stations, seconds) {
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const outcomes = [];
  const pending = [];
  const lags = [];
  const start = performance.now() + 20;
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    lags.push(Math.max(0, performance.now() - due));
    const station = stations[Math.floor(Math.random() * stations.length)];
    pending.push(roundTrip(station, gateways[i % gateways.length]).then((o) => { outcomes.push(o); }));
  }
  const sentIn = performance.now() - start;
  let timer;
  await Promise.race([
    Promise.all(pending),
    new Promise((r) => { timer = setTimeout(r, drainMs); }),
  ]);
  clearTimeout(timer);
  return { outcomes: [...outcomes], unfinished: total - outcomes.length, total, sentIn, lags };
}

function pct(sorted, p) {
  if (sorted.length === 0) return null;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] * 10) / 10;
}

let shuttingDown = false;
async function shutdown() {
  shuttingDown = true;
  for (const c of clients) await c.close({ force: true }).catch(() => {});
  await commands?.stop().catch(() => {});
  for (const gw of gateways) await gw.stop().catch((err) => log(`stopping ${gw.gatewayId}: ${err.message.split('\n')[0]}`));
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => { for (const gw of gateways) gw.kill(); process.exit(130); });
}

try {
  for (let i = 0; i < instances; i++) {
    gateways.push(await startGateway({
      gatewayId: `bench-cmd${i}-${runId}`,
      brokers: opt.brokers,
      extraArgs: ['--log-level', opt['log-level'], ...opt['gateway-arg']],
    }));
  }
  log(`${instances} instance(s) ready: ${gateways.map((g) => `${g.gatewayId} ws:${g.port} admin:${g.adminPort}`).join(', ')}`);
  if (path === 'topic') {
    commands = new CommandClient({ brokers: opt.brokers });
    await commands.start();
  }
  const stations = [];
  for (let i = 0; i < stationCount; i++) {
    const protocol = i % 2 ? 'ocpp2.0.1' : 'ocpp1.6';
    stations.push({ identity: uniqueStationId(`BC${i % 2 ? '201' : '16'}`), protocol, gw: gateways[i % instances] });
  }
  for (let i = 0; i < stations.length; i += 20) await Promise.all(stations.slice(i, i + 20).map(connectStation));
  await waitPresence(stations);
  log(`${stationCount} stations connected and visible on every instance`);

  if (warmup > 0) {
    const w = await openLoop(stations, warmup);
    log(`warm-up: ${w.total} commands, ${w.outcomes.filter((o) => o.status === 'Completed').length} completed, ${w.unfinished} unfinished`);
  }
  const m = await openLoop(stations, duration);
  const outcomes = m.outcomes;
  const statuses = {};
  for (const o of outcomes) statuses[o.status] = (statuses[o.status] ?? 0) + 1;
  if (m.unfinished) statuses.unfinished = m.unfinished;
  const done = outcomes.filter((o) => o.status === 'Completed').map((o) => o.ms).sort((a, b) => a - b);
  const lags = m.lags.sort((a, b) => a - b);
  const report = {
    instances,
    stations: stationCount,
    path,
    rate,
    duration,
    sent: m.total,
    sendSeconds: Math.round(m.sentIn) / 1000,
    completed: statuses.Completed ?? 0,
    statuses,
    p50: pct(done, 50),
    p90: pct(done, 90),
    p99: pct(done, 99),
    max: pct(done, 100),
    scheduleLagP99: pct(lags, 99),
    scheduleLagMax: pct(lags, 100),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  await shutdown();
  process.exit(0);      // unanswered commands may still hold timers
} catch (err) {
  log(`failed: ${err.stack ?? err.message}`);
  await shutdown();
  process.exit(1);
}
