/**
 * Summarises a V8 CPU profile (`npm run bench -- --cpu-prof` writes the
 * server's into bench/results/profiles/): self time by package or source
 * area, and the heaviest functions, so a bound can be shown in a few lines.
 *
 *   node dist/bench/profile.js bench/results/profiles/CPU.*.cpuprofile [--top=25]
 */
import fs from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Where a function lives: a package, our own source area, Node itself, or V8's special nodes. */
export function area(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const package_match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (package_match) return package_match[1];
  if (url.startsWith('node:')) return url;
  const source_match = /\/dist\/(src\/[^/]+|gen|bench)\//.exec(url);
  if (source_match) return source_match[1];
  return url;
}

export function summarise(profile: Profile, top: number): string {
  const by_id = new Map(profile.nodes.map((node) => [node.id, node]));
  const self_us = new Map<number, number>();
  for (let index = 0; index < profile.samples.length; index++) {
    const id = profile.samples[index];
    self_us.set(id, (self_us.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
  }
  const total = [...self_us.values()].reduce((sum, value) => sum + value, 0);
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, us] of self_us) {
    const node = by_id.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = area(url, functionName);
    areas.set(where, (areas.get(where) ?? 0) + us);
    const key = `${functionName || '(anonymous)'}  ${where}${url ? `:${lineNumber + 1}` : ''}`;
    functions.set(key, (functions.get(key) ?? 0) + us);
  }
  // Inclusive time of our own functions (src/): what each layer costs with everything it calls.
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const inclusive = new Map<string, number>();
  for (const [id, us] of self_us) {
    const seen = new Set<string>();
    for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
      const { functionName, url, lineNumber } = by_id.get(current)!.callFrame;
      if (!/\/dist\/src\//.test(url)) continue;
      const key = `${functionName || '(anonymous)'}  ${url.replace(/^.*\/dist\//, '')}:${lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const share = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const lines = [`profile: ${(total / 1e6).toFixed(2)} s of samples over ${((profile.endTime - profile.startTime) / 1e6).toFixed(2)} s`, '', 'self time by area:'];
  for (const [name, us] of [...areas].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${share(us)}  ${name}`);
  lines.push('', 'heaviest functions (self time):');
  for (const [name, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${share(us)}  ${name}`);
  lines.push('', 'our functions, inclusive (self + callees; async callees only up to their first await):');
  for (const [name, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${share(us)}  ${name}`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const files = process.argv.slice(2).filter((argument) => !argument.startsWith('--'));
  const top = Number(process.argv.find((argument) => argument.startsWith('--top='))?.slice(6) ?? 25);
  if (files.length === 0) {
    process.stderr.write('usage: node dist/bench/profile.js FILE.cpuprofile [--top=N]\n');
    process.exit(2);
  }
  for (const file of files) process.stdout.write(`${file}\n${summarise(JSON.parse(fs.readFileSync(file, 'utf8')) as Profile, top)}\n\n`);
}
