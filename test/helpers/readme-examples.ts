// The README's library examples: each ```ts block of its "As a library" section, as written.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './cli.js';

export const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

/** The ```ts blocks of "As a library", in order. */
export function libraryExamples(): string[] {
  const start = README.indexOf('## As a library');
  const section = README.slice(start, README.indexOf('\n## ', start + 5));
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** The example's first line that is not an import: its name in a test's title. */
export function exampleTitle(code: string): string {
  return (code.split('\n').find((l) => l.trim() && !l.startsWith('import')) ?? '').slice(0, 60);
}

/**
 * The example with `basePort` given to every ring and peer it starts (createTestnet, startPeer):
 * the README's examples use the default 12000, which a test must not count on being free.
 */
export function onBasePort(code: string, basePort: number): string {
  const out = code.replace(/\b(createTestnet|startPeer)\(\{/g, `$1({ basePort: ${basePort},`);
  if (out === code && /\b(createTestnet|startPeer)\(/.test(code)) throw new Error('a ring or peer started without an options object: give it a base port by hand');
  return out;
}
