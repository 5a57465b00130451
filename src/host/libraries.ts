/** Shared libraries the dynamic loader could not find, and the Debian package that ships each. */

const DEBIAN_PACKAGES: Record<string, string> = {
  'libltdl.so.7': 'libltdl7',
  'libseccomp.so.2': 'libseccomp2',
  'libsystemd.so.0': 'libsystemd0',
  'libdevmapper.so.1.02.1': 'libdevmapper1.02.1',
  'libc.so.6': 'libc6',
  'libpthread.so.0': 'libc6',
  'libdl.so.2': 'libc6',
  'libm.so.6': 'libc6',
  'libresolv.so.2': 'libc6',
  'ld-linux-x86-64.so.2': 'libc6',
  'ld-linux-aarch64.so.1': 'libc6',
  'libgcc_s.so.1': 'libgcc-s1',
  'libstdc++.so.6': 'libstdc++6',
  'libz.so.1': 'zlib1g',
  'libssl.so.3': 'libssl3',
  'libcrypto.so.3': 'libssl3',
  'libapparmor.so.1': 'libapparmor1',
  'libselinux.so.1': 'libselinux1',
  'libsqlite3.so.0': 'libsqlite3-0',
  'libbtrfs.so.0': 'libbtrfs0',
  'libnftables.so.1': 'libnftables1',
  'libip4tc.so.2': 'libip4tc2',
  'libxtables.so.12': 'libxtables12',
  'libcap.so.2': 'libcap2',
  'libsubid.so.4': 'libsubid4',
};

export function debianPackageFor(lib: string): string | undefined {
  return DEBIAN_PACKAGES[lib];
}

/** "error while loading shared libraries: libltdl.so.7: cannot open shared object file" (glibc's loader). */
export function missingLibraries(stderr: string): string[] {
  const out = new Set<string>();
  for (const m of stderr.matchAll(/error while loading shared libraries: ([^:\s]+): cannot open shared object file/g)) if (m[1]) out.add(m[1]);
  // musl: "Error loading shared library libltdl.so.7: No such file or directory"
  for (const m of stderr.matchAll(/Error loading shared library ([^:\s]+): No such file/g)) if (m[1]) out.add(m[1]);
  // ldd: "	libltdl.so.7 => not found"
  for (const m of stderr.matchAll(/^\s*(\S+) => not found/gm)) if (m[1]) out.add(m[1]);
  return [...out];
}
