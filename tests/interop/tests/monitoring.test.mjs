// The dashboard and alert rules people load (deploy/monitoring/): every expression parses
// and names metrics the gateway exports, and a real Prometheus (Debian's) scraping a gateway
// under load sees the downstream-lag budget alert fire while the billing group is stalled and
// clear once it reads again.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startGateway, httpGet, freePort, randomHex, KAFKA_BROKERS } from '../lib/gateway.mjs';
import { REPO_ROOT } from '../lib/paths.mjs';
import { eventually } from '../lib/until.mjs';

const LOADGEN_BIN = process.env.OCPP_LOADGEN_BIN || join(REPO_ROOT, 'build', 'bin', 'ocpp-loadgen');
const MONITORING = join(REPO_ROOT, 'deploy', 'monitoring');
const ALERT = 'OcppConsumerLagOverBudget';

const run = (cmd, args) => new Promise((resolve) => {
  execFile(cmd, args, { timeout: 60_000 }, (error, stdout, stderr) => resolve({ code: error ? (error.code ?? -1) : 0, stdout, stderr }));
});

/** Every PromQL expression of the dashboard, with its template variables filled in. */
function dashboardExpressions() {
  const dashboard = JSON.parse(readFileSync(join(MONITORING, 'grafana-dashboard.json'), 'utf8'));
  const exprs = [];
  for (const panel of dashboard.panels) {
    for (const target of panel.targets ?? []) exprs.push({ panel: panel.title, expr: target.expr.replaceAll('$instance', '.*') });
  }
  return exprs;
}

describe('monitoring: dashboard, alert rules and a real Prometheus', () => {
  const tag = randomHex(4);
  const group = `it-mon-billing-${tag}`;
  const meterTopic = `it-mon-${tag}.meter-values`;
  let dir;
  let gw;
  let kafka;
  let admin;
  let prometheus;
  let promUrl;
  let loadgen;
  let billing;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ocpp-monitoring-'));
    const gwConfig = join(dir, 'gateway.yaml');
    writeFileSync(gwConfig, ['topics:', `  metering: ${meterTopic}`, 'lag:', `  groups: ["${group}:metering:2"]`, '  interval_s: 1', ''].join('\n'));
    gw = await startGateway({ extraArgs: ['--config', gwConfig] });
    kafka = new Kafka({ clientId: 'ocpp-interop-monitoring', brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
  });

  after(async () => {
    loadgen?.kill('SIGKILL');
    prometheus?.kill('SIGTERM');
    await billing?.disconnect();
    await gw?.stop();
    await admin?.deleteGroups([group]).catch(() => {});
    await admin?.deleteTopics({ topics: [meterTopic] }).catch(() => {});
    await admin?.disconnect();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the rules and the dashboard parse, and name only metrics the gateway exports', async () => {
    assert.equal((await run('promtool', ['check', 'rules', join(MONITORING, 'alerts.yaml')])).code, 0);
    const unit = await run('promtool', ['test', 'rules', join(MONITORING, 'alerts.test.yaml')]);
    assert.equal(unit.code, 0, unit.stdout + unit.stderr);
    // promtool parses PromQL only inside rule files: every dashboard query as a recording rule.
    const exprs = dashboardExpressions();
    assert.ok(exprs.length >= 15, `only ${exprs.length} dashboard queries`);
    const asRules = join(dir, 'dashboard-rules.yaml');
    writeFileSync(asRules, JSON.stringify({ groups: [{ name: 'dashboard', rules: exprs.map((e, i) => ({ record: `dashboard:query_${i}`, expr: e.expr })) }] }));
    const parsed = await run('promtool', ['check', 'rules', asRules]);
    assert.equal(parsed.code, 0, parsed.stdout + parsed.stderr);
    // Wait for a lag measurement so the lag gauges are there too.
    let text = '';
    await eventually(async () => (text = (await httpGet(gw.adminUrl('/metrics'))).text).includes('ocpp_consumer_lag_seconds{'), 15_000, 'a lag measurement');
    const exported = new Set(text.split('\n').map((l) => /^(?:# TYPE )?((?:ocpp|process)_[a-z0-9_]+)/.exec(l)?.[1]).filter(Boolean));
    const metric = /(?:ocpp|process)_[a-z0-9_]+/g;
    const named = [...readFileSync(join(MONITORING, 'alerts.yaml'), 'utf8').matchAll(metric), ...exprs.flatMap((e) => [...e.expr.matchAll(metric)])]
      .map((m) => m[0].replace(/_(bucket|count|sum)$/, ''));
    for (const name of new Set(named)) assert.ok(exported.has(name), `${name} is not exported by the gateway`);
  });

  test('a real Prometheus sees the lag budget alert fire under load with billing stalled, and clear', async () => {
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    const promConfig = join(dir, 'prometheus.yml');
    writeFileSync(promConfig, [
      'global:', '  scrape_interval: 1s', '  evaluation_interval: 1s',
      'rule_files:', `  - ${join(MONITORING, 'alerts.yaml')}`,
      'scrape_configs:', '  - job_name: ocpp-gateway', '    static_configs:', `      - targets: ["127.0.0.1:${new URL(gw.adminUrl('/')).port}"]`, '',
    ].join('\n'));
    prometheus = spawn('prometheus', [`--config.file=${promConfig}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let promLog = '';
    prometheus.stderr.on('data', (d) => { promLog += d; });
    const alerts = async () => {
      const r = await httpGet(`${promUrl}/api/v1/alerts`).catch(() => null);
      if (!r || r.status !== 200) return null;
      return JSON.parse(r.text).data.alerts.filter((a) => a.labels.alertname === ALERT && a.labels.group === group);
    };
    await eventually(async () => (await alerts()) !== null, 30_000, `Prometheus answering (${promLog})`);
    // Load: 40 stations, realistic mix at 200 messages/s; nobody reads the meter values yet.
    loadgen = spawn(LOADGEN_BIN, ['--url', `ws://127.0.0.1:${gw.port}/ocpp`, '--stations', '40', '--id-prefix', `MON${tag}`,
      '--mix', 'realistic', '--rate', '200', '--warmup', '0', '--duration', '120'], { stdio: 'ignore' });
    await eventually(async () => (await alerts())?.some((a) => a.state === 'firing' && a.labels.event_class === 'metering'), 60_000, 'the lag alert firing');
    // Billing reads again (and keeps reading while the load goes on).
    billing = kafka.consumer({ groupId: group });
    await billing.connect();
    await billing.subscribe({ topic: meterTopic, fromBeginning: true });
    await billing.run({ eachMessage: async () => {} });
    await eventually(async () => (await alerts())?.length === 0, 60_000, 'the lag alert cleared');
    assert.equal(loadgen.exitCode, null, 'the load ended before the alert cleared');
    const up = JSON.parse((await httpGet(`${promUrl}/api/v1/query?query=up`)).text).data.result;
    assert.equal(up[0]?.value[1], '1', 'the gateway was scraped');
  });
});
