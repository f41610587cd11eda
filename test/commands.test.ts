// Typed commands: the console's parser (src/cli/commands.ts) reads a line into a command or the
// line that refuses it, in either kind of space; the core takes store, request and quit as typed
// events and refuses, with a command-refused trace, a name it does not take or a peer not in a ring.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCommand, runTyped } from '../src/cli/commands.js';
import type { Effect } from '../src/core/effects.js';
import { SPEC_SPACE } from '../src/core/id-space.js';
import { idSpace } from '../src/space.js';
import type { Trace } from '../src/core/trace.js';
import { renderTrace } from '../src/core/trace.js';
import { FakeLink } from './helpers/fake-link.js';

test('the parser: verbs in any case, one name at 8 bits, the rest of the line above, and refusals with a reason', () => {
  assert.deepEqual(parseCommand('  ', SPEC_SPACE), { kind: 'none' });
  assert.deepEqual(parseCommand('sToRe 2067', SPEC_SPACE), { kind: 'store', name: '2067' });
  assert.deepEqual(parseCommand('Request 4103', SPEC_SPACE), { kind: 'request', name: '4103' });
  assert.deepEqual(parseCommand('quit', SPEC_SPACE), { kind: 'quit' });
  assert.deepEqual(parseCommand('Quit now', SPEC_SPACE), { kind: 'refused', reason: 'usage', text: "Quit takes no argument (got 'now')" });
  assert.deepEqual(parseCommand('Store', SPEC_SPACE), { kind: 'refused', reason: 'usage', text: 'Store takes one file name of four digits, e.g. Store 2012' });
  const badName = parseCommand('Store 12', SPEC_SPACE);
  assert.ok(badName.kind === 'refused' && badName.reason === 'bad-name' && /^Invalid file name '12'/.test(badName.text), JSON.stringify(badName));
  assert.deepEqual(parseCommand('Fetch 1', SPEC_SPACE), { kind: 'refused', reason: 'unknown', text: "Unknown command 'Fetch': type Store NNNN, Request NNNN or Quit" });
  const big = idSpace(16);
  assert.deepEqual(parseCommand('Store my report (v2).pdf', big), { kind: 'store', name: 'my report (v2).pdf' });
  assert.deepEqual(parseCommand('Request " spaced "', big), { kind: 'request', name: ' spaced ' });
  assert.deepEqual(parseCommand('Fetch x', big), { kind: 'refused', reason: 'unknown', text: "Unknown command 'Fetch': type Store NAME, Request NAME or Quit" });
});

test('runTyped calls the typed method, or says the refusal', () => {
  const calls: string[] = [];
  const peer = { store: (n: string) => void calls.push(`store ${n}`), request: (n: string) => void calls.push(`request ${n}`), quit: () => void calls.push('quit') };
  const said: string[] = [];
  for (const line of ['Store 2067', 'request 4103', 'Quit', 'Store 1', 'x']) runTyped(line, SPEC_SPACE, peer, (t) => said.push(t));
  assert.deepEqual(calls, ['store 2067', 'request 4103', 'quit']);
  assert.equal(said.length, 2);
  assert.match(said[0]!, /^Invalid file name '1'/);
  assert.match(said[1]!, /^Unknown command 'x'/);
});

test('the core refuses a typed name it does not take, and a Store before it is in a ring, with a typed trace printed as before', () => {
  const traces = (effects: Effect[]): Trace[] => effects.flatMap((e) => (e.kind === 'trace' ? [e.trace] : []));
  const net = new FakeLink();
  net.add(20, { kind: 'join', known: 2 }); // 2 never answers: 20 stays joining
  const early = traces(net.feed(20, { type: 'store', name: '2067', now: 1 }));
  assert.deepEqual(early, [{ kind: 'command-refused', command: 'store', file: '2067', reason: 'not-in-ring' }]);
  assert.deepEqual(renderTrace(early[0]!, SPEC_SPACE), [{ text: 'Not in a ring yet: Store 2067 ignored', level: 'info' }]);
  const bad = traces(net.feed(20, { type: 'request', name: '12', now: 2 }));
  assert.equal(bad.length, 1);
  assert.equal(bad[0]!.kind === 'command-refused' && bad[0]!.reason, 'bad-name');
  assert.match(renderTrace(bad[0]!, SPEC_SPACE)[0]!.text, /^Invalid file name '12'/);
});
