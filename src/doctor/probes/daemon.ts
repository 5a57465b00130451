import { Engine, MAX_API_VERSION, MIN_API_VERSION, compareApiVersions } from '../../engine/client.js';
import { readBody, sendRequest } from '../../engine/transport.js';
import { findNestlingError } from '../../util/errors.js';
import { Facts, getFact, setFact, type EngineFacts } from '../facts.js';
import { Groups, type Probe } from '../probe.js';

interface VersionBody {
  Version?: unknown;
  ApiVersion?: unknown;
  MinAPIVersion?: unknown;
  Os?: unknown;
  Components?: { Name?: unknown }[] | null;
}
interface InfoBody {
  OperatingSystem?: unknown;
  SecurityOptions?: unknown;
  Runtimes?: unknown;
  DefaultRuntime?: unknown;
  DockerRootDir?: unknown;
  Driver?: unknown;
  CgroupVersion?: unknown;
  Plugins?: { Authorization?: unknown } | null;
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** Reachability, versions, and the curl equivalent of GET /version. */
export const daemonProbe: Probe = {
  id: 'daemon',
  group: Groups.access,
  title: 'engine reachable',
  provides: [Facts.engine.name],
  async run(ctx) {
    const ep = await getFact(ctx.facts, Facts.endpoint);
    if (!ep) return { status: 'unknown', found: 'no endpoint was resolved (see the endpoint probe)' };
    const curl =
      ep.kind === 'unix'
        ? `curl --unix-socket ${ep.socketPath} http://localhost/version`
        : `curl ${ep.tls ? '--cacert ca.pem --cert cert.pem --key key.pem https' : 'http'}://${ep.host}:${ep.port}/version`;
    const unreachable = (reason: string): EngineFacts => {
      const f: EngineFacts = { reachable: false, reason, endpoint: ep.url };
      setFact(ctx.facts, Facts.engine, f);
      return f;
    };
    // The raw exchange first: what `curl` would show, even when the answer is not JSON.
    let raw: { status: number; body: string };
    try {
      const res = await sendRequest(ep, '/version', { method: 'GET', path: '/version', signal: ctx.signal, timeoutMs: ctx.engineTimeoutMs });
      const body = (await readBody(res, 256 * 1024)).toString('utf8');
      raw = { status: res.statusCode ?? 0, body };
    } catch (e) {
      const ne = findNestlingError(e);
      unreachable(ne?.message ?? String(e));
      return {
        status: 'fail',
        found: `${curl} fails: ${ne?.message ?? String(e)}`,
        why: 'no Docker client (nor nestling) can use this engine',
        fix: ne?.hint ?? 'start dockerd, or fix DOCKER_HOST',
        details: { curl, errno: ne?.details.errno },
      };
    }
    const sample = raw.body.slice(0, 200).replace(/\s+/g, ' ');
    let v: VersionBody;
    try {
      v = JSON.parse(raw.body) as VersionBody;
      if (typeof v !== 'object' || v === null || typeof v.ApiVersion !== 'string') throw new Error('no ApiVersion field');
    } catch (e) {
      unreachable(`GET /version answered ${raw.status} with something that is not a Docker version document`);
      return {
        status: 'fail',
        found: `${curl} answers HTTP ${raw.status} with a body that is not a Docker /version document (${(e as Error).message}): ${JSON.stringify(sample)}`,
        why: 'whatever listens there is not a Docker engine (or a proxy in front of it mangles answers)',
        fix: 'point DOCKER_HOST at the Docker engine itself',
        details: { curl, status: raw.status, sample },
      };
    }
    if (raw.status !== 200) {
      unreachable(`GET /version answered ${raw.status}`);
      return { status: 'fail', found: `${curl} answers HTTP ${raw.status}: ${sample}`, fix: 'see the daemon log', details: { curl, status: raw.status } };
    }
    const apiVersion = str(v.ApiVersion);
    const facts: EngineFacts = {
      reachable: true,
      reason: 'GET /version answered',
      endpoint: ep.url,
      serverVersion: str(v.Version),
      apiVersion,
      minApiVersion: str(v.MinAPIVersion),
      os: str(v.Os),
      components: Array.isArray(v.Components) ? v.Components.map((c) => str(c?.Name) ?? '').filter(Boolean) : undefined,
    };
    // docker info: engine kind, runtimes, data root, authorization plugins.
    let infoNote = '';
    try {
      const engine = new Engine(ep, { apiVersion: apiVersion && compareApiVersions(apiVersion, MAX_API_VERSION) > 0 ? MAX_API_VERSION : apiVersion, signal: ctx.signal });
      const info = await engine.json<InfoBody>({ method: 'GET', path: '/info', signal: ctx.signal, timeoutMs: ctx.engineTimeoutMs });
      facts.operatingSystem = str(info.OperatingSystem);
      facts.securityOptions = Array.isArray(info.SecurityOptions) ? info.SecurityOptions.filter((s): s is string => typeof s === 'string') : undefined;
      facts.runtimes = info.Runtimes && typeof info.Runtimes === 'object' ? Object.keys(info.Runtimes) : undefined;
      facts.defaultRuntime = str(info.DefaultRuntime);
      facts.dockerRootDir = str(info.DockerRootDir);
      facts.driver = str(info.Driver);
      facts.cgroupVersion = str(info.CgroupVersion);
      const az = info.Plugins?.Authorization;
      facts.authorizationPlugins = Array.isArray(az) ? az.filter((s): s is string => typeof s === 'string') : [];
    } catch (e) {
      infoNote = `; GET /info failed: ${findNestlingError(e)?.message ?? String(e)}`;
    }
    setFact(ctx.facts, Facts.engine, facts);
    const tooOld = apiVersion !== undefined && compareApiVersions(apiVersion, MIN_API_VERSION) < 0;
    const speaks = tooOld ? 'older than nestling supports' : `nestling speaks ${MIN_API_VERSION}..${MAX_API_VERSION}, so ${apiVersion && compareApiVersions(apiVersion, MAX_API_VERSION) > 0 ? MAX_API_VERSION : apiVersion}`;
    const found = `${curl}: HTTP 200, server ${facts.serverVersion ?? '?'} (API ${apiVersion ?? '?'}, min ${facts.minApiVersion ?? '?'}, ${facts.os ?? '?'}); ${speaks}${infoNote}`;
    if (tooOld) {
      return { status: 'fail', found, why: 'nestling needs API 1.41 (Docker 20.10) or newer', fix: 'upgrade the engine to Docker 20.10 or newer', details: { curl, ...facts } };
    }
    return { status: 'ok', found, details: { curl, ...facts } };
  },
};
