import { compareApiVersions } from '../../engine/client.js';
import { elfInterpreter } from '../../host/elf.js';
import { exists, hostPath } from '../../host/fs.js';
import { debianPackageFor, missingLibraries } from '../../host/libraries.js';
import { Facts, getFact, setFact } from '../facts.js';
import { Groups, type Probe } from '../probe.js';

/** The docker CLI: present, runs (missing shared libraries named with their Debian package), its version. */
export const cliProbe: Probe = {
  id: 'cli',
  group: Groups.cli,
  title: 'docker CLI',
  provides: [Facts.cli.name],
  async run(ctx) {
    const path = await ctx.read.which('docker');
    if (!path) {
      setFact(ctx.facts, Facts.cli, { path: undefined, runs: false, version: undefined, missingLibraries: [] });
      return {
        status: 'warn',
        found: `no docker CLI on PATH (${ctx.env.PATH ?? 'PATH unset'})`,
        why: 'jobs that run `docker` need the CLI in their image (nestling itself speaks the API and does not need it)',
        fix: 'use an image with the CLI (docker:cli, nestling/cli:local), or apt-get install docker.io / docker-ce-cli',
      };
    }
    const r = await ctx.exec(path, ['--version'], { env: ctx.env, timeoutMs: 5000, signal: ctx.signal });
    const libs = missingLibraries(r.stderr);
    if (libs.length) {
      const named = libs.map((l) => ({ library: l, package: debianPackageFor(l) }));
      setFact(ctx.facts, Facts.cli, { path, runs: false, version: undefined, missingLibraries: named });
      const pkgs = named.map((n) => n.package).filter(Boolean);
      return {
        status: 'fail',
        found: `${path} does not start: missing shared ${libs.length > 1 ? 'libraries' : 'library'} ${named.map((n) => `${n.library}${n.package ? ` (Debian package ${n.package})` : ''}`).join(', ')}`,
        why: 'a dynamically linked docker CLI was copied (or bind-mounted) into an image that lacks its libraries',
        fix: pkgs.length ? `apt-get install ${[...new Set(pkgs)].join(' ')}, or use a statically linked CLI (docker:cli)` : 'install the libraries, or use a statically linked CLI (docker:cli)',
        details: { path, missing: named, stderr: r.stderr.slice(0, 500) },
      };
    }
    if (r.code !== 0) {
      let found = `${path} --version ${r.code === undefined ? `did not run: ${r.error ?? 'unknown error'}` : `exited ${r.code}: ${r.stderr.trim().slice(0, 200)}`}`;
      let fix = `reinstall the docker CLI at ${path}`;
      if (r.error === 'ENOENT') {
        const interp = await elfInterpreter(hostPath(ctx.host, path));
        if (interp && !(await exists(ctx.host, interp))) {
          found = `${path} cannot run: its program interpreter ${interp} is missing`;
          fix = interp.includes('ld-linux') ? 'a glibc binary in a musl image (Alpine): install gcompat, or use a static CLI (docker:cli)' : `install ${interp}`;
        }
      }
      setFact(ctx.facts, Facts.cli, { path, runs: false, version: undefined, missingLibraries: [] });
      return { status: 'fail', found, fix, details: { path, code: r.code, error: r.error } };
    }
    const version = /version\s+([^\s,]+)/i.exec(r.stdout)?.[1];
    setFact(ctx.facts, Facts.cli, { path, runs: true, version, missingLibraries: [] });
    // The client's API version (docker version prints the client part even when the daemon does not answer).
    const v = await ctx.exec(path, ['version', '--format', '{{.Client.APIVersion}}'], { env: ctx.env, timeoutMs: 5000, signal: ctx.signal });
    const clientApi = /^\d+\.\d+$/m.exec(v.stdout)?.[0];
    const eng = await getFact(ctx.facts, Facts.engine);
    const base = `${path}: ${r.stdout.trim()}${clientApi ? `, client API ${clientApi}` : ''}`;
    if (clientApi && eng?.minApiVersion && compareApiVersions(clientApi, eng.minApiVersion) < 0) {
      return {
        status: 'fail',
        found: `${base}; the engine needs API ${eng.minApiVersion} or newer`,
        why: 'the engine refuses the client: "client version is too old"',
        fix: 'use a newer docker CLI',
        details: { path, version, clientApi },
      };
    }
    const neg = clientApi && eng?.apiVersion && compareApiVersions(clientApi, eng.apiVersion) > 0 ? `; it negotiates down to the engine's ${eng.apiVersion}` : '';
    return { status: 'ok', found: `${base}${neg}`, details: { path, version, clientApi } };
  },
};
