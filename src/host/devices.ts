/** Device nodes a nested daemon needs: present, a character device, and openable (the device cgroup may say no). */
import { canOpenReadWrite, statPath, type HostRoot } from './fs.js';

export interface DeviceFacts {
  path: string;
  present: boolean;
  isCharDevice: boolean;
  usable: boolean;
  reason: string;
}

export async function deviceFacts(h: HostRoot, path: string): Promise<DeviceFacts> {
  const st = await statPath(h, path);
  if (!st.ok) return { path, present: false, isCharDevice: false, usable: false, reason: st.code === 'ENOENT' ? 'absent' : st.error };
  if (!st.value.isCharacterDevice()) return { path, present: true, isCharDevice: false, usable: false, reason: 'present but not a character device' };
  const o = await canOpenReadWrite(h, path);
  if (o.ok) return { path, present: true, isCharDevice: true, usable: true, reason: 'present and opens read-write' };
  const why = o.code === 'EPERM' ? 'the device cgroup does not allow it' : o.code === 'EACCES' ? 'permission denied for this user' : o.error;
  return { path, present: true, isCharDevice: true, usable: false, reason: `present but cannot be opened: ${why}` };
}
