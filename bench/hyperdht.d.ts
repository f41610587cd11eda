// The little of hyperdht (and of its testnet, re-exported by @hyperswarm/testnet) that
// bench/versus-child.ts uses: neither package ships TypeScript types.
declare module 'hyperdht' {
  interface HyperQuery {
    closestReplies: unknown[];
    finished(): Promise<void>;
    destroy(err?: Error): void;
  }
  /** A udx-native socket: the bench counts calls of its send and trySend. */
  interface UdxSocket {
    send(...a: unknown[]): unknown;
    trySend(...a: unknown[]): unknown;
  }
  class HyperDHT {
    constructor(opts?: { bootstrap?: Array<{ host: string; port: number }>; ephemeral?: boolean; firewalled?: boolean; host?: string; port?: number });
    readonly io: { readonly serverSocket: UdxSocket | null; readonly clientSocket: UdxSocket | null };
    readonly destroyed: boolean;
    fullyBootstrapped(): Promise<void>;
    findNode(target: Uint8Array): HyperQuery;
    destroy(opts?: { force?: boolean }): Promise<void>;
  }
  export default HyperDHT;
}

declare module '@hyperswarm/testnet' {
  import type HyperDHT from 'hyperdht';
  interface HyperTestnet {
    readonly nodes: HyperDHT[];
    readonly bootstrap: Array<{ host: string; port: number }>;
    destroy(): Promise<void>;
  }
  export default function createTestnet(size?: number, opts?: { host?: string; port?: number }): Promise<HyperTestnet>;
}
