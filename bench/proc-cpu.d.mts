// Types of proc-cpu.mjs (plain JavaScript, imported by the plain-node phase processes too).
export function postmasterPid(dataDir: string): number;
export function serverCpuMs(pid: number): number | null;
export function selfCpuMs(): number;
