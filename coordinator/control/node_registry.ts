/**
 * The nodes a coordinator knows: every NodeAnnouncement heard on NATS (proto/subjects.ts), from
 * this host or any other on the cluster, with one NodeControl client per node address.
 *
 * Invariants: a node is known from its first announcement on and is never forgotten (so a killed
 * node is "unreachable", not "not found"); a node is reachable while its last announcement is
 * younger than three heartbeats and did not say `leaving`; a new address replaces the client.
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { NodeAnnouncement } from "../../proto/gen/daxsim/v1/node.js";
import type { NodeControlClient } from "../../proto/gen/daxsim/v1/node.js";
import { NODE_ANNOUNCE_SUBJECT, NODE_DISCOVER_SUBJECT, isValidNodeId } from "../../proto/subjects.js";
import { InvalidArgumentError, NotFoundError, UnavailableError } from "../../node/control/rpc_errors.js";
import { nodeClient } from "./rpc_client.js";

/** Nodes one coordinator tracks at most. */
export const KNOWN_NODES_MAX = 4096;
const MISSED_HEARTBEATS_MAX = 3;

/** A request field that must name a node: INVALID_ARGUMENT naming `field` when empty or not a node id. */
export function checkNodeField(node: string, field: string): void {
  if (node === "") throw new InvalidArgumentError(field, "missing: name a node (see ListNodes)");
  if (!isValidNodeId(node))
    throw new InvalidArgumentError(field, `"${node.slice(0, 80)}" is not a node id (1–64 of A-Z a-z 0-9 _ -)`);
}

export interface KnownNode {
  announcement: NodeAnnouncement;
  lastSeenMs: number;
  client: NodeControlClient;
}

export class NodeRegistry {
  private readonly nodes = new Map<string, KnownNode>();
  private subscription: Subscription | undefined;
  ignored = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly now: () => number = Date.now,
  ) {}

  /** Listens for announcements and asks every node to announce itself now. */
  async start(): Promise<void> {
    this.subscription = this.nc.subscribe(NODE_ANNOUNCE_SUBJECT, {
      callback: (error, msg) => {
        if (error === null) this.heard(msg.data);
      },
    });
    await this.nc.flush();
    this.nc.publish(NODE_DISCOVER_SUBJECT);
  }

  stop(): void {
    this.subscription?.unsubscribe();
    for (const known of this.nodes.values()) known.client.close();
  }

  private heard(data: Uint8Array): void {
    let a: NodeAnnouncement;
    try {
      a = NodeAnnouncement.decode(data);
    } catch {
      this.ignored++;
      return;
    }
    if (!isValidNodeId(a.node) || a.grpcAddress === "") {
      this.ignored++;
      return;
    }
    const known = this.nodes.get(a.node);
    if (known === undefined) {
      if (this.nodes.size >= KNOWN_NODES_MAX) {
        this.ignored++;
        return;
      }
      this.nodes.set(a.node, { announcement: a, lastSeenMs: this.now(), client: nodeClient(a.grpcAddress) });
    } else {
      if (known.announcement.grpcAddress !== a.grpcAddress) {
        known.client.close();
        known.client = nodeClient(a.grpcAddress);
      }
      known.announcement = a;
      known.lastSeenMs = this.now();
    }
  }

  isReachable(known: KnownNode): boolean {
    const a = known.announcement;
    return !a.leaving && this.now() - known.lastSeenMs < MISSED_HEARTBEATS_MAX * Math.max(a.heartbeatMs, 100);
  }

  list(): KnownNode[] {
    return [...this.nodes.values()].sort((a, b) => (a.announcement.node < b.announcement.node ? -1 : 1));
  }

  has(node: string): boolean {
    return this.nodes.has(node);
  }

  /** The node, or NOT_FOUND naming `field`. */
  get(node: string, field = "node"): KnownNode {
    const known = this.nodes.get(node);
    if (known === undefined) {
      const names = [...this.nodes.keys()].sort().slice(0, 20).join(", ");
      throw new NotFoundError(
        field,
        `no node "${node.slice(0, 80)}" has announced itself (known: ${names === "" ? "none" : names})`,
      );
    }
    return known;
  }

  /** The node if it is reachable, else UNAVAILABLE. */
  reachable(node: string, field = "node"): KnownNode {
    const known = this.get(node, field);
    if (!this.isReachable(known)) {
      throw new UnavailableError(
        field,
        `node ${node} is not reachable (last heard ${this.now() - known.lastSeenMs} ms ago${known.announcement.leaving ? ", leaving" : ""})`,
      );
    }
    return known;
  }
}
