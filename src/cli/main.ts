// The `cdht` (alias `p2p`) command: parses `init` / `join` / `ring` / `ca` with commander, then runs
// the plan. Usage mistakes print one `cdht: error: ...` line and the usage, exit code 2.
// Start-up loads only what declares the commands (their help, checks and defaults): a command's
// own module, with the ring, the simulator, the certificates or the web server, loads when it
// runs, so --help, --version and a one-shot start without them.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { ArgumentProblem, initPlan, joinPlan, ringPlan } from './args.js';
import { DEFAULT_BASE_PORT, DEFAULT_HOST, DEFAULT_PING_MISSES, DEFAULT_SUCCESSORS, DEFAULTS, MAX_BASE_PORT, MAX_PING_MISSES, MAX_SUCCESSORS, MIN_BASE_PORT, MIN_PING_MISSES, MIN_SUCCESSORS, RING_REPLICAS, SCALE_BITS, TESTNET_PING_INTERVAL_MS } from '../core/config.js';
import { MAX_BITS, MIN_BITS } from '../core/id-space.js';
import type { RawOptions, RawRingOptions, RunPlan } from './args.js';
import type { CaPlan } from './ca.js';
import { addCheckCommand, runCheck, type CheckPlan } from './check.js';
import { DEFAULT_WEB_PORT, type RingOptions } from './ring-options.js';
import type { RawSimOptions, SimPlan } from './sim.js';
import { CONFIG_SETTING, SETTINGS, camelName, type Setting } from '../config/settings.js';
import type { NodeChoice } from './node-plan.js';
import type { StatusPlan } from './status.js';
import type { WebPlan } from './web.js';
import { addOneshotCommands, type OneshotPlan } from './oneshot.js';
import { addLogFormatEverywhere, commandPath, LOG_FORMAT_HELP } from './log-output.js';

/** The core's file size limit as --max-file-size's default reads it (1 GiB is 1G). */
const DEFAULT_MAX_FILE_SIZE = `${DEFAULTS.maxFileBytes / 1024 ** 3}G`;

export const USAGE_EXIT_CODE = 2;

/** The version in package.json (dist/src/cli/main.js is three levels below it). */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** `p2p` when started through a link or copy of that name (the reference set-up types `p2p init ...`). */
export function programName(scriptPath: string | undefined = process.argv[1]): string {
  const base = scriptPath ? basename(scriptPath).replace(/\.(c|m)?js$/, '') : '';
  return base === 'p2p' ? 'p2p' : 'cdht';
}

const COMMANDS_HELP = `
After start-up a peer reads commands from standard input, one a line:
  Store NNNN     store file NNNN (key NNNN mod 256) at the peer that owns its key
  Request NNNN   fetch NNNN.pdf from its owner; it arrives as received_NNNN.pdf
  Quit           leave the ring gracefully (Ctrl+C leaves abruptly)
Ctrl+C and SIGTERM are an abrupt departure, as the specification has it: the peer tells no one and
its successors notice by pings (cdht node leaves gracefully on them instead).
Above 8 bits (--bits): Store PATH publishes any file under its base name (key: SHA-256 of the
name), and Request NAME fetches it as received_NAME.`;

function addPeerOptions(cmd: Command, name: string): Command {
  return cmd
    .addOption(
      new Option('--base-port <N>', `peer ID listens on TCP and UDP port N + ID (${MIN_BASE_PORT}..${MAX_BASE_PORT})`)
        .env('CDHT_BASE_PORT')
        .default(String(DEFAULT_BASE_PORT)),
    )
    .option('--host <ADDR>', 'address to listen on and to reach the other peers at', DEFAULT_HOST)
    .option('--data-dir <DIR>', 'where NNNN.pdf files are kept and received (default: the current directory)')
    .option('--ping-misses <K>', `consecutive unanswered pings before a successor is declared dead (${MIN_PING_MISSES}..${MAX_PING_MISSES})`, String(DEFAULT_PING_MISSES))
    .option('--no-ping-lines', 'hide the ping request and response lines')
    .option('--debug', 'show debug lines (dropped input, retries)')
    .option('--shortcuts', 'forward past the first successor when the second is closer to the key (changes the routes)')
    .option('--bits <M>', `id space size in bits, ${MIN_BITS} to ${MAX_BITS} (default 8: ids 0..255 and four-digit files, as the specification says)`)
    .option('--id <ID>', 'this peer\'s id (instead of PEER; above 8 bits PEER may be auto: derived from the advertised address)')
    .option('--listen <HOST:PORT>', 'address to bind (default: the advertised one)')
    .option('--advertise <HOST:PORT>', 'address the other peers reach this one at (default: --host and port base + id; required above 8 bits)')
    .option('--routing <R>', 'successor (the specification\'s walk), shortcuts, or fingers (Chord; the default above 8 bits)')
    .option('--successors <R>', `successor list length: any R - 1 adjacent failures are survived (${MIN_SUCCESSORS}..${MAX_SUCCESSORS})`, String(DEFAULT_SUCCESSORS))
    .option('--replicas <K>', `copies of each stored file, on the owner and its next K - 1 successors (default ${DEFAULTS.replicas} at 8 bits, ${RING_REPLICAS} above)`)
    .option('--max-file-size <SIZE>', 'refuse incoming files larger than this, before writing a byte (e.g. 500M, 2G)', DEFAULT_MAX_FILE_SIZE)
    .addOption(new Option('--tls <DIR>', 'a private ring: DIR/ca.crt and this peer\'s DIR/peer-ID.key and .crt (made by cdht ca)').env('CDHT_TLS_DIR'))
    .addOption(new Option('--log-format <FORMAT>', 'text (the default: the specification\'s lines) or json: one object a line, the event\'s kind as "event"').env('CDHT_LOG_FORMAT'))
    .addHelpText('after', COMMANDS_HELP)
    // After a usage error: the command's usage line, not its whole help.
    .showHelpAfterError(`Usage: ${name} ${cmd.name()} ${cmd.usage()}\nRun '${name} ${cmd.name()} --help' for the options.`);
}

function rawOptions(cmd: Command): RawOptions {
  const o = cmd.opts<Record<string, string | boolean | undefined>>();
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const source = cmd.getOptionValueSource('basePort');
  return {
    basePort: str(o['basePort']),
    ...(source ? { basePortSource: source } : {}),
    host: str(o['host']),
    dataDir: str(o['dataDir']),
    pingMisses: str(o['pingMisses']),
    pingLines: o['pingLines'] !== false,
    debug: o['debug'] === true,
    shortcuts: o['shortcuts'] === true,
    bits: str(o['bits']),
    id: str(o['id']),
    listen: str(o['listen']),
    advertise: str(o['advertise']),
    routing: str(o['routing']),
    successors: str(o['successors']),
    replicas: str(o['replicas']),
    maxFileSize: str(o['maxFileSize']),
    tls: str(o['tls']),
    ...(cmd.getOptionValueSource('tls') ? { tlsSource: cmd.getOptionValueSource('tls') } : {}),
    logFormat: str(o['logFormat']),
    ...(cmd.getOptionValueSource('logFormat') ? { logFormatSource: cmd.getOptionValueSource('logFormat') } : {}),
  };
}

/** Runs `make`, turning an ArgumentProblem into commander's error path (message, usage, exit). */
function checked<T>(cmd: Command, extra: string[], make: () => T): T {
  try {
    if (extra.length > 0) {
      const names = cmd.registeredArguments.map((a) => a.name()).join(' ');
      throw new ArgumentProblem(
        `unexpected extra argument${extra.length > 1 ? 's' : ''} ${extra.map((e) => `'${e}'`).join(' ')} ` +
          `(${cmd.name()} takes ${names})`,
      );
    }
    return make();
  } catch (err) {
    if (err instanceof ArgumentProblem) cmd.error(`error: ${err.message}`, { exitCode: USAGE_EXIT_CODE, code: 'cdht.badArgument' });
    throw err;
  }
}

const RING_HELP = `
The console reads one command a line (help lists them):
  <id> store NNNN | <id> request NNNN | <id> quit | kill <id> | join <id> [via <id>]
  add N | ring | watch | pings on|off | route <key|NNNN> [from <id>] | files [id] | stop | start | help | exit
Ctrl+C stops the whole ring (twice forces it).

Examples:
  npm start                          the reference ring with its web page, as cdht ring --web
  cdht ring --peers 3,40,77 --reporter
  cdht ring --sim --random 256 --speed 10 --reporter
  cdht ring --bits 32 --random 4096 --processes 4 --interval 5     one ring, four processes
  cdht ring --bits 32 --random 4096 --slice 1/4 --interval 5       the same by hand: slices 0/4 to 3/4, a terminal each`;

const CA_HELP = `
A private ring trusts one authority. Keep DIR/ca.key secret; every peer needs ca.crt and its own
peer-ID.key and peer-ID.crt.

Examples:
  cdht ca create ring-ca                          writes ring-ca/ca.key and ring-ca/ca.crt
  cdht ca issue 14 --ca ring-ca                   writes ring-ca/peer-14.key and ring-ca/peer-14.crt
  cdht ca issue 14 --ca ring-ca --out peer14      a directory to copy to peer 14's host`;

function addCaCommands(program: Command, name: string, onCa: (plan: CaPlan) => void): void {
  const ca = program
    .command('ca')
    .description('the certificates of a private ring: create its authority, issue each peer a certificate')
    .usage('<create|issue> [options]')
    .addHelpText('after', CA_HELP)
    .showHelpAfterError(`Usage: ${name} ca create <DIR> [options]\n       ${name} ca issue <ID> --ca <DIR> [options]\nRun '${name} ca --help' for more.`);
  const create = ca
    .command('create')
    .description('create a ring authority: DIR/ca.key (0600) and DIR/ca.crt, making DIR if needed')
    .argument('<DIR>', 'the directory to write to; an existing ca.key there is never overwritten')
    .option('--algorithm <ALG>', 'key algorithm: ed25519 or p256 (ECDSA P-256)', 'ed25519')
    .option('--name <NAME>', 'the authority\'s common name (default: cdht ring authority)')
    .option('--days <N>', 'days the authority certificate is valid (default: 3650)')
    .allowExcessArguments();
  create
    .showHelpAfterError(`Usage: ${name} ca create ${create.usage()}\nRun '${name} ca create --help' for the options.`)
    .action(async (dir: string, _opts: unknown, cmd: Command) => {
      const { caCreatePlan } = await import('./ca.js');
      onCa(checked(cmd, cmd.args.slice(1), () => caCreatePlan(dir, cmd.opts())));
    });
  const issue = ca
    .command('issue')
    .description('issue peer ID a key and a certificate signed by the authority in --ca DIR')
    .argument('<ID>', 'the peer id, a decimal integer from 0 to 2^160-1')
    .option('--ca <DIR>', 'the directory holding the authority\'s ca.key and ca.crt (required)')
    .option('--out <DIR>', 'write peer-ID.key, peer-ID.crt and a copy of ca.crt here (default: the --ca directory)')
    .option('--days <N>', 'days the peer certificate is valid (default: 825, never past the authority\'s)')
    .allowExcessArguments();
  issue
    .showHelpAfterError(`Usage: ${name} ca issue ${issue.usage()}\nRun '${name} ca issue --help' for the options.`)
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { caIssuePlan } = await import('./ca.js');
      onCa(checked(cmd, cmd.args.slice(1), () => caIssuePlan(id, cmd.opts())));
    });
}

const NODE_HELP = `
Every option can also be set by a CDHT_* variable (--data-dir: CDHT_DATA_DIR) or in the --config
file (data-dir = "/var/lib/cdht" in TOML, "data-dir": "/var/lib/cdht" in JSON), seeds as a list
(CDHT_SEEDS comma-separated). Flags win over variables, variables over the file, the file over the
defaults; --print-config shows the result.

Examples:
  cdht node --id 14 --data-dir /var/lib/cdht                              a ring of one
  cdht node --bits 32 --listen 10.0.0.2:7000 --seeds 10.0.0.1:7000,b.example:7000
  cdht node --config /etc/cdht.toml --print-config`;

/** `--data-dir <DIR>`, `--debug`, or `--no-ping-lines` for a boolean that is on unless turned off. */
function flagOf(s: Setting): string {
  if (s.kind !== 'boolean') return `--${s.name} ${s.arg ?? '<VALUE>'}`;
  return s.default === true ? `--no-${s.name}` : `--${s.name}`;
}

function helpOf(s: Setting): string {
  if (s.offHelp !== undefined && s.default === true) return s.offHelp;
  const shown = Array.isArray(s.default) ? undefined : s.default;
  return shown === undefined || typeof shown === 'boolean' ? s.help : `${s.help} (default: ${shown})`;
}

/**
 * `cdht node`: the options come from the settings table, without commander defaults or
 * variables (the config module merges those); only what was typed is passed on. The module that
 * reads the config and runs the node is loaded only for this command.
 */
function addNodeCommand(program: Command, name: string, onNode: (choice: NodeChoice) => void): void {
  const node = program
    .command('node')
    .description('one long-running peer for servers: a config file, CDHT_* variables, seeds, a graceful leave on SIGTERM')
    .usage('[options]')
    .addHelpText('after', NODE_HELP)
    .showHelpAfterError(`Usage: ${name} node [options]\nRun '${name} node --help' for the options.`)
    .allowExcessArguments();
  for (const s of [CONFIG_SETTING, ...SETTINGS]) node.option(flagOf(s), helpOf(s));
  node.option('--print-config', 'print the merged settings as JSON (a valid --config file) and exit');
  node.action(async (_opts: unknown, cmd: Command) => {
    const { nodeChoice } = await import('./node-plan.js');
    const flags: Record<string, unknown> = {};
    for (const s of [CONFIG_SETTING, ...SETTINGS, { name: 'print-config' }]) {
      const key = camelName(s.name);
      if (cmd.getOptionValueSource(key) === 'cli') flags[s.name] = cmd.getOptionValue(key);
    }
    onNode(checked(cmd, cmd.args, () => nodeChoice(flags, process.env)));
  });
}

const STATUS_HELP = `
Walks the ring from the peer given, successor by successor, without joining it, and prints one
line per peer: id, address, state (joining, normal, leaving), keys and bytes held, the share of
the id space it owns, keys it owns short of k copies as far as it knows, and pending hand-overs.
Exit 0 when the walk came back to its start, 1 when a peer could not be reached or the ring did
not close, 2 for a usage mistake. On a private ring give --tls DIR (a certificate its authority
issued; --id picks one when DIR holds several).

Examples:
  cdht status --peer 127.0.0.1:12002
  cdht status --peer 10.0.0.1:7000 --json
  cdht status --peer 10.0.0.1:7000 --tls ring-ca --id 1000`;

const DECOMMISSION_HELP = `
Asks the peer to leave gracefully, as its console's Quit: it hands its keys over, tells its
predecessors and exits. An open ring accepts this only from the peer's own host (a loopback
address); a private ring only from a connection holding that peer's own certificate (--tls DIR
--id ID; when DIR holds the authority's ca.key and no peer-ID.key, one is issued in memory for
this request). Exit 0 when the peer confirmed it is leaving.

Examples:
  cdht decommission --peer 127.0.0.1:12014
  cdht decommission --peer 10.0.0.4:7000 --tls /etc/cdht/tls --id 14`;

/** `cdht status` and `cdht decommission`: their module is loaded only when one of them runs. */
function addStatusCommands(program: Command, name: string, onStatus: (plan: StatusPlan) => void): void {
  for (const kind of ['status', 'decommission'] as const) {
    const cmd = program
      .command(kind)
      .description(kind === 'status' ? 'walk a ring from any of its peers and print each peer\'s state (without joining)' : 'ask a peer to leave its ring gracefully (as its console\'s Quit)')
      .usage('--peer <HOST:PORT> [options]')
      .option('--peer <HOST:PORT>', 'a peer of the ring (required)')
      .option('--json', kind === 'status' ? 'print an array of objects, one per peer' : 'print one JSON object')
      .option('--timeout <S>', 'seconds each peer has to answer (1..600)', '5');
    if (kind === 'status') cmd.option('--max <N>', 'visit at most N peers (1..4096)', '4096');
    cmd
      .addOption(new Option('--tls <DIR>', 'a private ring: DIR/ca.crt and a certificate its authority issued (made by cdht ca)').env('CDHT_TLS_DIR'))
      .option('--id <ID>', 'with --tls: which peer-ID certificate of DIR to use')
      .addHelpText('after', kind === 'status' ? STATUS_HELP : DECOMMISSION_HELP)
      // a usage mistake is one line, for scripts that run these one-shots
      .showHelpAfterError(false)
      .allowExcessArguments()
      .action(async (_opts: unknown, c: Command) => {
        const { statusPlan } = await import('./status.js');
        onStatus(checked(c, c.args, () => statusPlan(kind, c.opts())));
      });
  }
}

const WEB_HELP = `
Serves the web page for a ring that runs elsewhere (peers in other processes or on other hosts):
it walks the ring from the peer given over the peers' own protocol, as cdht status does, without
joining it, and walks it again every --refresh seconds; the page draws each peer, its successors
and predecessor, its address, keys, bytes and share. Read-only: without a certificate the page
changes nothing. On a private ring --tls DIR (a certificate its authority issued; --id picks one
when DIR holds several) also lets the page ask a peer to leave (decommission), with that peer's
own certificate when DIR holds it, or one the authority's key in DIR issues for the request; the
peer refuses any other. Runs until Ctrl+C or SIGTERM; exit 1 when the first walk finds no peer.

Examples:
  cdht web --peer 10.0.0.1:7000
  cdht web --peer 10.0.0.1:7000 --tls ring-ca --id 1000 --web-port 8080`;

function addWebCommand(program: Command, name: string, onWeb: (plan: WebPlan) => void): void {
  program
    .command('web')
    .description('serve the web page for a ring running elsewhere, walked from any of its peers (read-only without a certificate)')
    .usage('--peer <HOST:PORT> [options]')
    .option('--peer <HOST:PORT>', 'a peer of the ring (required)')
    .option('--refresh <S>', 'seconds between walks of the ring (1..3600)', '2')
    .option('--timeout <S>', 'seconds each peer has to answer (1..600)', '5')
    .option('--max <N>', 'visit at most N peers a walk (1..4096)', '4096')
    .option('--web-port <N>', `port of the web page, 0 for any free one (default ${DEFAULT_WEB_PORT}, or a free one when that is taken)`)
    .option('--web-host <ADDR>', `address the web page listens on (default ${DEFAULT_HOST}: this machine only)`)
    .addOption(new Option('--tls <DIR>', 'a private ring: DIR/ca.crt and a certificate its authority issued; lets the page ask a peer to leave').env('CDHT_TLS_DIR'))
    .option('--id <ID>', 'with --tls: which peer-ID certificate of DIR to walk with')
    .addHelpText('after', WEB_HELP)
    .showHelpAfterError(`Usage: ${name} web --peer <HOST:PORT> [options]\nRun '${name} web --help' for the options.`)
    .allowExcessArguments()
    .action(async (_opts: unknown, c: Command) => {
      const { webPlan } = await import('./web.js');
      onWeb(checked(c, c.args, () => webPlan(c.opts())));
    });
}

async function runStatusPlan(plan: StatusPlan): Promise<number> {
  const { runStatus, runDecommission } = await import('./status.js');
  return plan.kind === 'status' ? runStatus(plan) : runDecommission(plan);
}

async function runNodeChoice(choice: NodeChoice): Promise<number> {
  const { printConfig, runNode } = await import('./node.js');
  return choice.kind === 'print' ? printConfig(choice.config) : runNode(choice.plan);
}

/** What each command hands back once its arguments are checked (main runs it). */
export type Chosen =
  | { kind: 'peer'; plan: RunPlan }
  | { kind: 'ring'; plan: RingOptions }
  | { kind: 'ca'; plan: CaPlan }
  | { kind: 'sim'; plan: SimPlan }
  | { kind: 'check'; plan: CheckPlan }
  | { kind: 'node'; choice: NodeChoice }
  | { kind: 'status'; plan: StatusPlan }
  | { kind: 'web'; plan: WebPlan }
  | { kind: 'oneshot'; plan: OneshotPlan };

export function buildProgram(name: string, choose: (c: Chosen) => void): Command {
  const onPlan = (plan: RunPlan) => choose({ kind: 'peer', plan });
  const onRing = (plan: RingOptions) => choose({ kind: 'ring', plan });
  const onCa = (plan: CaPlan) => choose({ kind: 'ca', plan });
  const onSim = (plan: SimPlan) => choose({ kind: 'sim', plan });
  const program = new Command(name)
    .description('A peer of a Chord-style circular distributed hash table (ids 0..255, or up to 160 bits with --bits).')
    .usage('<command> [options]')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(s),
      // One line, prefixed with the program's name; commander's own messages start with "error: ".
      outputError: (s, write) => write(`${name}: ${s.trim().replace(/\s*\n\s*/g, ' ')}\n`),
    })
    .showHelpAfterError(
      `Usage: ${name} init <PEER> <FIRST_SUCCESSOR> <SECOND_SUCCESSOR> <PING_INTERVAL> [options]\n` +
        `       ${name} join <PEER> <KNOWN_PEER> <PING_INTERVAL> [options]\n` +
        `Run '${name} --help' for more.`,
    )
    .addHelpText('after', `\nExamples:\n  ${name} init 2 4 5 30\n  ${name} join 15 4 30\n  ${name} ring --web\n  ${name} web --peer 10.0.0.1:7000`)
    .version(packageVersion(), '-V, --version', 'print the version');

  addPeerOptions(
    program
      .command('init')
      .description('start a peer of a new ring, with its two successors given')
      .argument('<PEER>', 'this peer\'s id, 0..255 (above 8 bits: an id, or auto)')
      .argument('<FIRST_SUCCESSOR>', 'its first successor: ID (placed as port base + ID) or ID@host:port')
      .argument('<SECOND_SUCCESSOR>', 'its second successor: ID or ID@host:port')
      .argument('<PING_INTERVAL>', 'seconds between pings to the successors (fractions allowed, e.g. 0.5)')
      .allowExcessArguments(),
    name,
  ).action((peer: string, first: string, second: string, interval: string, _opts: unknown, cmd: Command) => {
    onPlan(checked(cmd, cmd.args.slice(4), () => initPlan({ peer, first, second, interval }, rawOptions(cmd))));
  });

  addPeerOptions(
    program
      .command('join')
      .description('start a peer that joins an existing ring through a peer already in it')
      .argument('<PEER>', 'this peer\'s id, 0..255 (above 8 bits: an id, or auto)')
      .argument('<KNOWN_PEER>', 'any peer already in the ring: ID, host:port or ID@host:port')
      .argument('<PING_INTERVAL>', 'seconds between pings to the successors (fractions allowed, e.g. 0.5)')
      .allowExcessArguments(),
    name,
  ).action((peer: string, known: string, interval: string, _opts: unknown, cmd: Command) => {
    onPlan(checked(cmd, cmd.args.slice(3), () => joinPlan({ peer, known, interval }, rawOptions(cmd))));
  });

  const ring = program
    .command('ring')
    .description('start a whole ring in this process, with a console to drive it and a reporter to watch it')
    .option('--peers <IDS>', 'comma-separated peer ids (default: the reference ring 2,4,5,8,9,14,19)')
    .option('--random <N>', 'N distinct random ids instead (1..256)')
    .option('--interval <S>', 'ping interval in seconds (fractions allowed)', String(TESTNET_PING_INTERVAL_MS / 1000))
    .addOption(new Option('--base-port <N>', 'peer ID listens on port N + ID').env('CDHT_BASE_PORT').default(String(DEFAULT_BASE_PORT)))
    .option('--host <ADDR>', 'address to listen on', DEFAULT_HOST)
    .option('--data-dir <DIR>', 'parent folder of the peers\' data (default: a new temporary folder)')
    .option('--shared-dir', 'all peers use the data folder itself instead of a subfolder peer-<id> each')
    .option('--sim', 'run on the simulated network and virtual clock instead of real sockets')
    .option('--speed <X>', 'with --sim: virtual seconds per real second', '1')
    .option('--seed <N>', 'seed of --random and of the simulator')
    .option('--ping-lines', 'show ping lines (hidden by default; the console\'s pings on|off toggles them)')
    .option('--no-ping-lines', 'hide ping lines (the default)')
    .option('--debug', 'show debug lines')
    .option('--json', 'one JSON object per event instead of text')
    .addOption(new Option('--log-format <FORMAT>', 'text (the default) or json: pino lines, one object a line, the event\'s kind as "event"').env('CDHT_LOG_FORMAT'))
    .option('--reporter', 'redraw each peer\'s neighbours every second (the console\'s watch toggles it)')
    .option('--ping-misses <K>', `unanswered pings before a successor is declared dead (${MIN_PING_MISSES}..${MAX_PING_MISSES})`, String(DEFAULT_PING_MISSES))
    .option('--bits <M>', `id space size in bits, ${MIN_BITS} to ${MAX_BITS} (above 8, --random N peers get ids derived from their addresses)`)
    .option('--routing <R>', 'successor, shortcuts or fingers (default: successor at 8 bits, fingers above)')
    .option('--successors <R>', `successor list length (${MIN_SUCCESSORS}..${MAX_SUCCESSORS})`, String(DEFAULT_SUCCESSORS))
    .option('--replicas <K>', `copies of each stored file (default ${RING_REPLICAS})`)
    .option('--max-file-size <SIZE>', 'refuse incoming files larger than this (e.g. 500M, 2G)', DEFAULT_MAX_FILE_SIZE)
    .option('--web', 'serve the ring\'s web page and print its URL')
    .option('--web-port <N>', `port of the web page (default ${DEFAULT_WEB_PORT}, or a free one when that is taken)`)
    .option('--web-host <ADDR>', `address the web page listens on (default ${DEFAULT_HOST}: this machine only)`)
    .option('--no-start', 'plan the ring without starting it: Start it from the page or the console')
    .option('--secure', 'a private ring: a throwaway authority in memory issues every peer a certificate (mutual TLS, sealed pings)')
    .addOption(new Option('--tls <DIR>', 'a private ring with the certificates in DIR (made by cdht ca)').env('CDHT_TLS_DIR'))
    .option('--processes <P>', 'one ring of --random N peers (--bits above 8) over P processes on this machine: this one and P - 1 it starts')
    .option('--slice <I/P>', 'start only share I (0 to P - 1) of the --random N peers: one terminal a share makes one ring (as --processes does)')
    .addHelpText('after', RING_HELP)
    .showHelpAfterError(`Usage: ${name} ring [options]\nRun '${name} ring --help' for the options.`)
    .allowExcessArguments();
  ring.action((_opts: unknown, cmd: Command) => {
    const o = cmd.opts<RawRingOptions>();
    const source = cmd.getOptionValueSource('basePort');
    const tlsSource = cmd.getOptionValueSource('tls');
    const logFormatSource = cmd.getOptionValueSource('logFormat');
    onRing(checked(cmd, cmd.args, () => ringPlan({ ...o, ...(source ? { basePortSource: source } : {}), ...(tlsSource ? { tlsSource } : {}), ...(logFormatSource ? { logFormatSource } : {}) })));
  });

  addCaCommands(program, name, onCa);
  program
    .command('sim')
    .description('a settled ring of N peers on the simulator: L lookups of random keys, and the hops they take')
    .option('--peers <N>', 'how many peers (required)')
    .option('--bits <M>', `id space size in bits, ${MIN_BITS} to ${MAX_BITS}`, String(SCALE_BITS))
    .option('--routing <R>', 'successor, shortcuts or fingers (default: fingers above 8 bits)')
    .option('--lookups <L>', 'how many lookups', '1000')
    .option('--seed <S>', 'seed of the ids, the lookups and the simulator', '1')
    .option('--fingers <HOW>', 'seeded (finger tables start as the settled ring has them) or protocol (filled by fix_fingers during the warm-up)', 'seeded')
    .option('--warmup <S>', 'virtual seconds the ring runs before the lookups (default 0, or 40 with --fingers protocol)')
    .option('--json', 'one JSON object: peers, lookups, failures, meanHops, p50Hops, p99Hops, maxHops, virtualMs, wallMs')
    .showHelpAfterError(`Usage: ${name} sim --peers N [options]\nRun '${name} sim --help' for the options.`)
    .allowExcessArguments()
    .action(async (_opts: unknown, cmd: Command) => {
      const { simPlan } = await import('./sim.js');
      onSim(checked(cmd, cmd.args, () => simPlan(cmd.opts<RawSimOptions>())));
    });

  addCheckCommand(program, name, (plan) => choose({ kind: 'check', plan }));
  addNodeCommand(program, name, (choice) => choose({ kind: 'node', choice }));
  addStatusCommands(program, name, (plan) => choose({ kind: 'status', plan }));
  addWebCommand(program, name, (plan) => choose({ kind: 'web', plan }));
  addOneshotCommands(program, checked, (plan) => choose({ kind: 'oneshot', plan }));
  // every other command logs its printed lines as JSON when asked (the peer commands log their traces)
  addLogFormatEverywhere(program, () => new Option('--log-format <FORMAT>', LOG_FORMAT_HELP).env('CDHT_LOG_FORMAT'));
  program.hook('preAction', (_root, action) => {
    jsonOutputEvent = undefined;
    const path = commandPath(action);
    if (PEER_COMMANDS.has(path)) return;
    const format: unknown = action.opts()['logFormat'];
    if (format === undefined || format === 'text') return;
    const name = action.getOptionValueSource('logFormat') === 'env' ? 'CDHT_LOG_FORMAT' : '--log-format';
    if (format !== 'json') action.error(`error: ${name} must be text or json (got ${JSON.stringify(format)})`, { exitCode: USAGE_EXIT_CODE, code: 'cdht.badArgument' });
    if (action.opts()['json']) {
      // an explicit --json wins over the environment's default; typed together they conflict
      if (name === 'CDHT_LOG_FORMAT') return;
      action.error(`error: --json and --log-format json cannot be used together: --json prints the result as JSON, --log-format json logs each line printed`, { exitCode: USAGE_EXIT_CODE, code: 'cdht.badArgument' });
    }
    jsonOutputEvent = path;
  });
  return program;
}

/** Commands that log a peer's traces themselves with --log-format (node-log.ts). */
const PEER_COMMANDS = new Set(['init', 'join', 'ring', 'node']);
/** Set by the preAction hook: the command whose printed lines go out as JSON objects. */
let jsonOutputEvent: string | undefined;

/** Help that was asked for exits 0; every other way out of commander is a usage error. */
function exitCodeOf(err: CommanderError): number {
  return err.exitCode === 0 ? 0 : USAGE_EXIT_CODE;
}

/** Parses `argv` (the words after the program name) and runs the peer; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const name = programName();
  let chosen: Chosen | undefined;
  const program = buildProgram(name, (c) => (chosen = c));
  // Help, sim, check and ca print and finish: when their reader goes (`| head -1`) there is
  // nothing left worth doing, so they end at once, quietly, as Unix tools do on SIGPIPE. A peer
  // and a ring keep their own handlers: a peer stays in its ring, a ring cleans up first.
  const quietEnd = (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? 0 : 1);
  const outputs = [process.stdout, process.stderr];
  outputs.forEach((s) => s.on('error', quietEnd));
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return exitCodeOf(err);
    throw err;
  }
  const c = chosen as Chosen | undefined;
  if (c?.kind === 'peer' || c?.kind === 'ring' || c?.kind === 'web' || (c?.kind === 'node' && c.choice.kind === 'run')) {
    // their own handlers take over (a write error must still never be thrown as unhandled)
    outputs.forEach((s) => {
      s.off('error', quietEnd);
      s.on('error', () => {});
    });
  }
  if (jsonOutputEvent !== undefined) await (await import('./log-output.js')).logOutputAsJson(jsonOutputEvent);
  switch (c?.kind) {
    case 'node':
      return runNodeChoice(c.choice);
    case 'ring':
      return (await import('./ring.js')).runRing(c.plan);
    case 'sim':
      return (await import('./sim.js')).runSim(c.plan);
    case 'check':
      return runCheck(c.plan); // check.ts loads the sweep itself
    case 'ca':
      return (await import('./ca.js')).runCa(c.plan, name);
    case 'status':
      return runStatusPlan(c.plan);
    case 'web':
      return (await import('./web.js')).runWeb(c.plan);
    case 'oneshot':
      return (await import('./oneshot.js')).runOneshot(c.plan, name);
    case 'peer':
      return (await import('./run.js')).runPeer(c.plan, name);
    default:
      return USAGE_EXIT_CODE; // commander only returns without a choice for help, handled above
  }
}
