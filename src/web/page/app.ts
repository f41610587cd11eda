// The page: one WebSocket to the server, the storyboard's controls, the ring drawn from the state
// the server pushes and the traces it forwards. The page holds no ring logic: it sends verbs with
// what was typed, and shows the server's answer (the same sentences the console prints).
import type { PeerView, RingState } from '../../control/view-types.js';
import type { ClientMessage, ErrorMessage, ReplyMessage, ServerMessage } from '../protocol.js';
import { RingDrawing } from './draw.js';
import { formatBytes, HopDrawing } from './hops.js';
import { Transcript } from './transcript.js';

const $ = <T extends Element = HTMLElement>(sel: string) => document.querySelector(sel) as T;
const RECONNECT_MAX_MS = 5_000;

let ws: WebSocket | undefined;
let state: RingState | undefined;
let selected: string | null = null;
let drawPending = false;
let nextRef = 1;
let reconnectMs = 500;
/** What the server lets this page do (its hello says; a remote ring watched read-only offers no change). */
let offered: ReadonlySet<string> | undefined;
const may = (verb: string) => offered === undefined || offered.has(verb);
const pending = new Map<number, (m: ReplyMessage | ErrorMessage) => void>();
const hiddenLayers = new Set<string>();

const svg = $<SVGSVGElement>('#ring');
const drawing = new RingDrawing(svg, $<SVGGElement>('#peers'), $<SVGGElement>('#links'), $<SVGGElement>('#layer-links'), select, peerKey);
const hops = new HopDrawing($<SVGGElement>('#hops'), $<HTMLOListElement>('#op-list'), () => drawing.geometry, () => drawing.radius, (sentence) => showError(sentence), $<SVGGElement>('#hop-labels'));
const transcript = new Transcript($<HTMLOListElement>('#transcript'), $<HTMLSelectElement>('#transcript-peer'));

// ---- the connection ----------------------------------------------------------------------------

function connect(): void {
  const conn = $('#connection');
  ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  ws.addEventListener('open', () => {
    conn.textContent = 'Connected';
    conn.className = '';
    delete document.body.dataset['connection'];
    svg.classList.remove('disconnected');
    for (const b of document.querySelectorAll<HTMLButtonElement>('button')) b.disabled = false;
    render(); // buttons and panel as the state says (a fresh state follows)
    reconnectMs = 500;
    if ($<HTMLInputElement>('#show-pings').checked) void send({ verb: 'pings', on: true });
  });
  ws.addEventListener('close', () => {
    conn.textContent = 'Disconnected: reconnecting…';
    conn.className = 'down';
    // the last state drawn is no longer news: say so rather than "Running: 7 live"
    if (document.body.dataset['connection'] !== 'down') {
      document.body.dataset['connection'] = 'down';
      $('#summary').textContent = 'Not connected to the ring (has its server stopped?): the drawing shows it as it was last seen.';
      svg.classList.add('disconnected');
      hops.clear();
      for (const b of document.querySelectorAll<HTMLButtonElement>('button:not(#help-open):not(#help-close)')) b.disabled = true;
    }
    for (const [, done] of pending) done({ type: 'error', code: 'INTERNAL', message: 'The connection to the ring was lost' });
    pending.clear();
    setTimeout(connect, reconnectMs);
    reconnectMs = Math.min(RECONNECT_MAX_MS, reconnectMs * 2);
  });
  ws.addEventListener('message', (ev) => onMessage(JSON.parse(String(ev.data)) as ServerMessage));
}

function onMessage(m: ServerMessage): void {
  switch (m.type) {
    case 'state':
      state = m;
      if (!drawPending) {
        drawPending = true;
        requestAnimationFrame(render);
      }
      return;
    case 'traces':
      transcript.add(m.items);
      hops.handle(m.items);
      return;
    case 'reply':
    case 'error':
      if (typeof m.ref === 'number' && pending.has(m.ref)) {
        pending.get(m.ref)!(m);
        pending.delete(m.ref);
      } else if (m.type === 'error') showError(m.message);
      return;
    case 'hello':
      document.body.dataset['version'] = m.version;
      offered = new Set(m.verbs);
      render();
      return;
  }
}

function send(msg: ClientMessage): Promise<ReplyMessage | ErrorMessage> {
  if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.resolve({ type: 'error', code: 'INTERNAL', message: 'Not connected to the ring' });
  const ref = nextRef++;
  return new Promise((resolve) => {
    pending.set(ref, resolve);
    ws!.send(JSON.stringify({ ...msg, ref }));
  });
}

/** Sends a verb and shows its answer; on an error, marks the field it is about. */
async function act(msg: ClientMessage, fieldFor: (e: ErrorMessage) => HTMLInputElement | null = () => null): Promise<boolean> {
  for (const f of document.querySelectorAll('[aria-invalid=true]')) f.removeAttribute('aria-invalid');
  const r = await send(msg);
  if (r.type === 'error') {
    showError(r.message);
    const field = fieldFor(r);
    if (field) {
      field.setAttribute('aria-invalid', 'true');
      field.focus();
    }
    return false;
  }
  showError('');
  $('#message').textContent = r.warning ? `${r.message}. ${r.warning}` : r.message;
  return true;
}

function showError(text: string): void {
  $('#error').textContent = text;
  if (text) $('#message').textContent = '';
}

// ---- drawing -----------------------------------------------------------------------------------

function render(): void {
  drawPending = false;
  if (!state) return;
  const t0 = performance.now();
  const s = state;
  if (selected && !s.peers.some((p) => p.id === selected)) selected = null;
  drawing.render(s, selected, hiddenLayers);
  const running = s.phase === 'running';
  const planned = s.phase === 'planned';
  if (!running) hops.clear(); // a stopped ring's arrows and rings would tell of peers no longer there
  $<HTMLButtonElement>('#start').hidden = (!planned && s.phase !== 'starting') || !may('start');
  $<HTMLButtonElement>('#start').disabled = !planned;
  $<HTMLButtonElement>('#stop').hidden = (!running && s.phase !== 'stopping') || !may('stop');
  $<HTMLButtonElement>('#stop').disabled = !running;
  $('#node-form').hidden = !may('add') && !may('join');
  $('#known-wrap').hidden = !running;
  $<HTMLButtonElement>('#add-node').hidden = running;
  $<HTMLButtonElement>('#join-node').hidden = !running;
  const count = (st: PeerView['state']) => s.peers.filter((p) => p.state === st).length;
  const r = s.remote;
  $('#summary').textContent = r
    ? `The ring at ${r.peer}, walked at ${new Date(r.walkedAt).toLocaleTimeString()}: ${count('live')} peer${count('live') === 1 ? '' : 's'}${r.complete ? '' : ' (the walk did not come round)'}; stale: ${s.stale.length ? s.stale.join(', ') : 'none'}. ` +
      `${r.actions.includes('quit') ? 'A peer may be asked to leave.' : 'Read-only.'}${r.error ? ` Last walk failed: ${r.error}.` : ''}${r.notes.length ? ` ${r.notes.join('; ')}.` : ''}`
    : s.phase === 'planned'
      ? `Planned: ${count('planned')} peer${count('planned') === 1 ? '' : 's'}. Add Node plans more; Start starts them.`
      : `${s.phase === 'running' ? 'Running' : s.phase}: ${count('live')} live, ${count('departed')} departed${s.outside.length ? `, ${s.outside.length} outside this process` : ''}; stale: ${s.stale.length ? s.stale.join(', ') : 'none'}.`;
  transcript.peers(s.peers.filter((p) => p.state !== 'planned').map((p) => p.id));
  renderLayers(s);
  renderPanel(s);
  document.body.dataset['phase'] = s.phase;
  document.body.dataset['seq'] = String(s.seq);
  (window as unknown as { cdhtRendered: unknown }).cdhtRendered = { seq: s.seq, at: performance.timeOrigin + performance.now(), ms: performance.now() - t0 };
}

function renderLayers(s: RingState): void {
  const box = $('#extra-layers');
  const have = [...box.querySelectorAll('input')].map((i) => i.dataset['layer']);
  if (have.join() === s.layers.join()) return;
  box.replaceChildren(
    ...s.layers.map((name) => {
      const label = document.createElement('label');
      const input = document.createElement('input');
      input.type = 'checkbox';
      input.checked = !hiddenLayers.has(name);
      input.dataset['layer'] = name;
      input.addEventListener('change', () => {
        if (input.checked) hiddenLayers.delete(name);
        else hiddenLayers.add(name);
        render();
      });
      label.append(input, ` ${name[0]!.toUpperCase()}${name.slice(1)}`);
      return label;
    }),
  );
}

function renderPanel(s: RingState): void {
  const panel = $('#peer-panel');
  const p = s.peers.find((x) => x.id === selected);
  panel.hidden = !p;
  if (!p) return;
  $('#peer-title').textContent = `Peer ${p.id}`;
  const live = p.state === 'live';
  const what =
    p.state === 'planned'
      ? 'Planned: not started yet.'
      : p.state === 'departed'
        ? `Departed (${[p.departure, p.reason !== 'quit' && p.reason !== 'killed' ? p.reason : undefined].filter(Boolean).join(': ') || 'gone'}).`
        : `${p.pred2 ?? '?'} > ${p.pred1 ?? '?'} > [${p.id}] > ${p.successors.slice(0, 2).join(' > ') || '?'}` +
          (p.phase !== 'active' ? ` (${p.phase})` : '') +
          (p.stale ? `: stale, the true ring says ${(p.want ?? []).join(' > ')}` : '');
  $('#peer-neighbours').textContent = what;
  // only a live peer can store, request or leave: a departed or planned one is not offered them
  $('#file-form').hidden = !live || (!may('store') && !may('request'));
  $('#peer-leave').hidden = !live || (!may('quit') && !may('kill'));
  $('#leave-graceful').hidden = !may('quit');
  $('#leave-abrupt').hidden = !may('kill');
  for (const id of ['#store', '#request', '#leave-graceful', '#leave-abrupt', '#file-name']) $<HTMLButtonElement>(id).disabled = !live;
  const files = $('#peer-files');
  const items = p.files.map((f) => `${f.name} (${formatBytes(f.size)})${f.received ? ', received' : ''}`);
  // a ring watched from outside tells counts, never names (keys and bytes are listed below)
  const none = s.remote ? 'names are not told outside the ring' : 'none';
  if ([...files.children].map((li) => li.textContent).join('\n') !== (items.join('\n') || none)) {
    files.replaceChildren(...(items.length ? items : [none]).map((t) => Object.assign(document.createElement('li'), { textContent: t })));
  }
  const layers = $('#peer-layers');
  layers.replaceChildren(
    ...Object.entries(p.layers ?? {}).flatMap(([k, v]) => [
      Object.assign(document.createElement('dt'), { textContent: k }),
      Object.assign(document.createElement('dd'), { textContent: Array.isArray(v) ? v.join(', ') : String(v) }),
    ]),
  );
}

// ---- peers: selection and keyboard --------------------------------------------------------------

function select(id: string | null): void {
  selected = selected === id ? null : id;
  render();
  if (selected && !$<HTMLInputElement>('#file-name').disabled) $<HTMLInputElement>('#file-name').value ||= '';
}

function peerKey(id: string, ev: KeyboardEvent): void {
  const ids = state?.peers.map((p) => p.id) ?? [];
  const i = ids.indexOf(id);
  const move = (d: number) => drawing.element(ids[(i + d + ids.length) % ids.length]!)?.focus();
  if (ev.key === 'Enter' || ev.key === ' ') select(id);
  else if (ev.key === 'ArrowRight' || ev.key === 'ArrowDown') move(1);
  else if (ev.key === 'ArrowLeft' || ev.key === 'ArrowUp') move(-1);
  else if (ev.key === 'Escape') select(null);
  else return;
  ev.preventDefault();
}

// ---- controls ----------------------------------------------------------------------------------

const nodeId = $<HTMLInputElement>('#node-id');
const knownId = $<HTMLInputElement>('#known-id');
const fileName = $<HTMLInputElement>('#file-name');

$('#start').addEventListener('click', () => void act({ verb: 'start' }));
$('#stop').addEventListener('click', () => void act({ verb: 'stop' }));
$('#node-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const joining = state?.phase === 'running';
  const msg: ClientMessage = joining ? { verb: 'join', peer: nodeId.value, via: knownId.value } : { verb: 'add', peer: nodeId.value };
  void act(msg, (e) => (e.code === 'UNKNOWN_PEER' || e.message.startsWith('Known Peer') ? knownId : e.code === 'BAD_ID' || e.code === 'ID_TAKEN' ? nodeId : null)).then((ok) => {
    if (!ok) return;
    nodeId.value = '';
    nodeId.focus();
  });
});
const fileVerb = (verb: 'store' | 'request') => void act({ verb, peer: selected ?? '', file: fileName.value }, (e) => (e.code === 'BAD_FILE' ? fileName : null));
$('#file-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  fileVerb('store');
});
$('#request').addEventListener('click', () => fileVerb('request'));
$('#leave-graceful').addEventListener('click', () => void act({ verb: 'quit', peer: selected ?? '' }));
$('#leave-abrupt').addEventListener('click', () => void act({ verb: 'kill', peer: selected ?? '' }));
$<HTMLInputElement>('#show-pings').addEventListener('change', (ev) => void send({ verb: 'pings', on: (ev.target as HTMLInputElement).checked }));
for (const box of document.querySelectorAll<HTMLInputElement>('#layers > label > input[data-layer]')) {
  box.addEventListener('change', () => svg.classList.toggle(`hide-${box.dataset['layer']}`, !box.checked));
}

// ---- help --------------------------------------------------------------------------------------

const help = $('#help');
let helpReturn: HTMLElement | null = null;
function openHelp(): void {
  helpReturn = document.activeElement as HTMLElement | null;
  help.hidden = false;
  $<HTMLButtonElement>('#help-close').focus();
}
function closeHelp(): void {
  help.hidden = true;
  helpReturn?.focus();
}
$('#help-open').addEventListener('click', openHelp);
$('#help-close').addEventListener('click', closeHelp);
help.addEventListener('click', (ev) => ev.target === help && closeHelp());
document.addEventListener('keydown', (ev) => {
  const typing = ev.target instanceof HTMLInputElement || ev.target instanceof HTMLSelectElement;
  if (ev.key === 'Escape' && !help.hidden) closeHelp();
  else if (ev.key === 'Tab' && !help.hidden) {
    ev.preventDefault(); // the dialog has one control: keep focus there
    $<HTMLButtonElement>('#help-close').focus();
  } else if (ev.key === 'Escape' && selected) select(null);
  else if (ev.key === '?' && !typing && help.hidden) openHelp();
});

connect();
