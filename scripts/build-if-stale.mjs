/**
 * Runs `npm run build` only when a source is newer than the last build, so that
 * `npm start` and `npm run token` answer at once on a built checkout (a full
 * TypeScript build takes 10-20 s). Plain .mjs: it must run before anything
 * is compiled. The stamp is written only after the build succeeds.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const STAMP = path.join(ROOT, 'dist', '.build-stamp');
const INPUTS = ['src', 'gen', 'bench', 'console', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'];

function newestMtimeMs(entry) {
  const stat = fs.statSync(entry, { throwIfNoEntry: false });
  if (stat === undefined) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs; // a deleted or renamed file changes its folder
  for (const name of fs.readdirSync(entry)) newest = Math.max(newest, newestMtimeMs(path.join(entry, name)));
  return newest;
}

function stamp() {
  fs.mkdirSync(path.dirname(STAMP), { recursive: true });
  fs.writeFileSync(STAMP, `${new Date().toISOString()}\n`);
}

// `npm run build` ends with this: it just built, so only the stamp is missing.
if (process.argv.includes('--built')) {
  stamp();
  process.exit(0);
}

const built_ms = fs.statSync(STAMP, { throwIfNoEntry: false })?.mtimeMs ?? 0;
const source_ms = Math.max(...INPUTS.map((input) => newestMtimeMs(path.join(ROOT, input))));
if (source_ms >= built_ms) {
  // The whole build (server and console), as `npm run build` does it.
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
