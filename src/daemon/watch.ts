// Config change triggers: chokidar on the config path, treated as hints (ConfigMap mounts swap a
// `..data` symlink, editors save by rename): debounce, then the reload re-reads, hashes, compares.
import { watch, type FSWatcher } from 'chokidar';
import { dirname, resolve } from 'node:path';
import { stat } from 'node:fs/promises';

export interface ConfigWatcher {
  close(): Promise<void>;
}

export async function watchConfig(path: string, onChange: () => void, debounceMs = 300): Promise<ConfigWatcher> {
  const abs = resolve(path);
  const isDir = (await stat(abs).catch(() => null))?.isDirectory() ?? false;
  // Watch the directory (also for a single file: editors replace the file by rename).
  const target = isDir ? abs : dirname(abs);
  let timer: NodeJS.Timeout | null = null;
  const fire = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      onChange();
    }, debounceMs);
  };
  const watcher: FSWatcher = watch(target, {
    ignoreInitial: true,
    followSymlinks: true,
    depth: isDir ? 20 : 0,
    awaitWriteFinish: false,
    // Dot-files are not config, but `..data` swaps are exactly how ConfigMaps change: keep them.
    ignored: (p: string) => {
      const base = p.slice(p.lastIndexOf('/') + 1);
      return base.startsWith('.') && !base.startsWith('..data') && !base.startsWith('..');
    },
  });
  watcher.on('all', fire);
  await new Promise<void>((r) => watcher.once('ready', () => r()));
  return {
    close: async () => {
      if (timer) clearTimeout(timer);
      await watcher.close();
    },
  };
}
