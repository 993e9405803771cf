/** Where the project is, whether this runs from bench/ (ts) or dist/bench/ (compiled). */
import fs from 'node:fs';
import path from 'node:path';

function findRoot(start: string): string {
  for (let directory = start; ; directory = path.dirname(directory)) {
    const manifest = path.join(directory, 'package.json');
    if (fs.existsSync(manifest) && fs.existsSync(path.join(directory, 'proto'))) return directory;
    if (path.dirname(directory) === directory) throw new Error(`no project root above ${start}`);
  }
}

export const ROOT = findRoot(import.meta.dirname);
export const RESULTS_DIR = path.join(ROOT, 'bench', 'results');
