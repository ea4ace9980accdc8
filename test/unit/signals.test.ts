// Process signals as a user sees them: a second SIGTERM forces exit while the first shutdown hangs,
// and an unhandled rejection is logged and ends the process non-zero.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../support/daemon-config.js';
import { spawnScript } from '../support/daemon-process.js';

const CHILD = fileURLToPath(new URL('../support/signals-child.ts', import.meta.url));

describe('signals', () => {
  it('a second SIGTERM forces exit (non-zero) while the first shutdown is hung', async () => {
    const { child, output, exited } = spawnScript(CHILD, ['hang']);
    try {
      await waitFor(() => output().includes('signals child ready'), 20_000, 'child ready');
      child.kill('SIGTERM');
      await waitFor(() => output().includes('signal received: shutting down'), 5_000, 'first signal logged');
      // The shutdown hangs: the first signal alone does not end the process.
      const early = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 500))]);
      expect(early).toBe('still running');
      child.kill('SIGTERM');
      const { code, signal } = await exited;
      expect(signal).toBeNull();
      expect(code).not.toBe(0);
      expect(output()).toMatch(/"msg":"second signal: forcing exit"/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('an unhandled rejection is logged and ends the process non-zero', async () => {
    const { child, output, exited } = spawnScript(CHILD, ['reject']);
    try {
      const { code, signal } = await exited;
      expect(signal).toBeNull();
      expect(code).not.toBe(0);
      const fatal = output().split('\n').find((l) => l.includes('unhandled promise rejection'));
      expect(fatal).toBeDefined();
      expect(JSON.parse(fatal!)).toMatchObject({ level: 'fatal', err: { message: 'planted rejection' } });
    } finally {
      child.kill('SIGKILL');
    }
  });
});
