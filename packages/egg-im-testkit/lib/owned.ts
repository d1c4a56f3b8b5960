import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';

/** Processes and folders the throwaway servers started; whatever is still here when the test process exits is ended. */
export const ownedProcesses = new Set<ChildProcess>();
export const ownedDirs = new Set<string>();
let exitHookInstalled = false;

/** Never leave a server or its folder behind, even if the test process dies before its `after` hook. */
export function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of ownedProcesses) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    for (const dir of ownedDirs) fs.rmSync(dir, { recursive: true, force: true });
  });
}
