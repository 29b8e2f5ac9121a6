// Whether a process id still names a running process (signal 0 checks
// without sending anything). EPERM means it runs under another user: alive.

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
