#!/usr/bin/env node
// Renders the guard section of docs/benchmarks.md from bench/results/guard-overhead.json (the run shown in full) and
// bench/results/history/*.json (every run, one line each: the spread on a shared machine). The section sits between
// the markers <!-- guard-results:begin --> and <!-- guard-results:end -->; the rest of the page is hand-written.
//   node bench/render-guard.mjs            # rewrite the section
//   node bench/render-guard.mjs --check    # exit 1 when the page is not what the results say
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const page = join(root, 'docs/benchmarks.md');
const latest = JSON.parse(readFileSync(join(root, 'bench/results/guard-overhead.json'), 'utf8'));
const histDir = join(root, 'bench/results/history');
const history = readdirSync(histDir)
  .filter((f) => f.startsWith('guard-overhead-') && f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(histDir, f), 'utf8')));

const n = (x, d = 3) => (x === undefined || x === null ? '-' : typeof x === 'number' ? String(Math.round(x * 10 ** d) / 10 ** d) : String(x));
const yes = (b) => (b ? 'yes' : '**no**');
const KINDS = ['raw', 'guard', 'haproxy', 'relay'].filter((k) => latest['/_ping']?.[k]);
const out = [];
out.push(`Run of commit \`${latest.commit}\` at ${latest.at} (${latest.runs} runs each, medians; node ${latest.node}, ${latest.cpus}x ${latest.cpu}; pinning: ${latest.pinned ?? 'no'}).`);
out.push('');
out.push('| call | endpoint | p50 ms | p99 ms | req/s (8 conns) | CPU µs/req | req per CPU-second | p50 ratio | req/s ratio |');
out.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const path of ['/_ping', '/v1.41/containers/json']) {
  const e = latest[path];
  for (const k of KINDS) {
    const r = e[k];
    out.push(`| ${path} | ${k} | ${n(r.p50Ms)} | ${n(r.p99Ms)} | ${r.reqPerSec} | ${n(r.cpuUsPerReq, 0)} | ${n(r.reqPerCpuSecond, 0)} | ${k === 'raw' ? 1 : n(r.ratio.p50)} | ${k === 'raw' ? 1 : n(r.ratio.reqPerSec)} |`);
  }
}
out.push('');
out.push(`p50 bound for the guard (1.10x raw + 0.3 ms): \`/_ping\` ${n(latest['/_ping'].p50TargetMs)} ms, \`/containers/json\` ${n(latest['/v1.41/containers/json'].p50TargetMs)} ms.`);
out.push('');
const run = latest.dockerRunTrue;
const ex = latest.execStream;
const bc = latest.buildContext;
out.push('| measure | raw | guard | HAProxy | relay | guard ratio | HAProxy ratio | relay ratio |');
out.push('| --- | --- | --- | --- | --- | --- | --- | --- |');
out.push(`| \`docker run --rm IMAGE true\` (ms) | ${run.rawMs} | ${run.guardMs} | ${run.haproxyMs ?? '-'} | ${run.relayMs ?? '-'} | ${n(run.guardRatio)} | ${n(run.haproxyRatio)} | ${n(run.relayRatio)} |`);
out.push(
  `| exec stream, ${ex.mb} MiB in and out through \`cat\` (MB/s) | ${n(ex.rawMBps, 1)} | ${n(ex.guardMBps, 1)} | ${ex.haproxyMBps ? n(ex.haproxyMBps, 1) : `failed: ${ex.haproxyError ? '"unable to upgrade to tcp, received 200"' : '-'}`} | ${n(ex.relayMBps, 1)} | ${n(ex.guardRatio)} | ${n(ex.haproxyRatio)} | ${n(ex.relayRatio)} |`,
);
out.push(`| legacy build, ${bc.mb} MiB context (ms) | ${bc.rawMs} | ${bc.guardMs} | ${bc.haproxyMs ?? '-'} | ${bc.relayMs ?? '-'} | ${n(bc.guardRatio)} | ${n(bc.haproxyRatio)} | ${n(bc.relayRatio)} |`);
out.push('');
out.push('Ratios of the last three rows are raw time over endpoint time (throughput): above 1 is noise in the raw runs.');
if (ex.haproxyNote) out.push(`HAProxy's exec row: ${ex.haproxyNote}.`);
out.push('');
const mg = latest.manyGuards;
out.push(`${mg.guards} guards side by side, each with a job running \`docker run -d\`, \`docker ps\`, \`docker run --rm\`: **${mg.errors} errors**; RSS per guard median ${mg.rssMiB.median} MiB, max ${mg.rssMiB.max} MiB.`);
out.push('');
out.push('### Against the targets (this run)');
out.push('');
const ping = latest['/_ping'];
const list = latest['/v1.41/containers/json'];
out.push('| target (issue 3) | result | met? |');
out.push('| --- | --- | --- |');
out.push(`| small calls: p50 within 1.10x raw + 0.3 ms | \`/_ping\` ${n(ping.guard.p50Ms)} ms (bound ${n(ping.p50TargetMs)}); \`/containers/json\` ${n(list.guard.p50Ms)} ms (bound ${n(list.p50TargetMs)}) | ${yes(ping.guardMeetsP50Target)} / ${yes(list.guardMeetsP50Target)} |`);
out.push(
  `| ≥ 5,000 req/s through one guard on one core | \`/_ping\` ${ping.guard.reqPerSec} req/s measured (guard pinned to one core), ${n(ping.guard.reqPerCpuSecond, 0)} per CPU-second; \`/containers/json\` ${list.guard.reqPerSec} measured (raw: ${list.raw.reqPerSec}), ${n(list.guard.reqPerCpuSecond, 0)} per CPU-second | ${yes(ping.guard.reqPerSec >= 5000)} / ${yes(list.guard.reqPerSec >= 5000)} measured; ${yes(ping.guard.reqPerCpuSecond >= 5000)} / ${yes(list.guard.reqPerCpuSecond >= 5000)} per CPU-second |`,
);
out.push(`| \`docker run --rm IMAGE true\` ≤ 1.05x raw | ${n(run.guardRatio)}x | ${yes(run.guardRatio <= 1.05)} |`);
out.push(`| exec/attach stream ≥ 0.90x raw (1 GiB) | ${n(ex.guardRatio)}x (${ex.mb} MiB) | ${yes(ex.guardRatio >= 0.9)} |`);
out.push(`| build-context upload ≥ 0.90x raw (500 MB) | ${n(bc.guardRatio)}x (${bc.mb} MiB) | ${yes(bc.guardRatio >= 0.9)} |`);
out.push(`| 50 guards side by side: no errors, RSS reported | ${mg.errors} errors, ${mg.rssMiB.median} MiB each | ${yes(mg.errors === 0 && mg.guards >= 50)} |`);
out.push('');
out.push('### Every run kept (bench/results/history)');
out.push('');
out.push('| at | commit | `/_ping` guard req/s | p50 ms (bound) | `/containers/json` guard req/s | p50 ms (bound) | run | exec | build | relay build |');
out.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const h of history) {
  const p = h['/_ping'];
  const l = h['/v1.41/containers/json'];
  out.push(
    `| ${h.at} | ${h.commit} | ${p.guard.reqPerSec} | ${n(p.guard.p50Ms)} (${n(p.p50TargetMs)}) | ${l.guard.reqPerSec} | ${n(l.guard.p50Ms)} (${n(l.p50TargetMs)}) | ${n(h.dockerRunTrue.guardRatio)} | ${n(h.execStream.guardRatio)} | ${n(h.buildContext.guardRatio)} | ${n(h.buildContext.relayRatio)} |`,
  );
}
const section = `<!-- guard-results:begin -->\n${out.join('\n')}\n<!-- guard-results:end -->`;
const text = readFileSync(page, 'utf8');
const re = /<!-- guard-results:begin -->[^]*<!-- guard-results:end -->/;
if (!re.test(text)) {
  console.error('docs/benchmarks.md has no guard-results markers');
  process.exit(2);
}
const next = text.replace(re, section);
if (process.argv.includes('--check')) {
  if (next !== text) {
    console.error('docs/benchmarks.md is out of date: run node bench/render-guard.mjs');
    process.exit(1);
  }
} else writeFileSync(page, next);
