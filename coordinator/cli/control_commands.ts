/**
 * The commands of the running system (issue 5): the node and coordinator processes, `up` (a whole
 * set-up and its supervisor), and the clients of the Coordinator gRPC service. Listed in main.ts;
 * each module loads gRPC, NATS or SQLite only when its command runs.
 */
import type { Command } from "./main.js";

export const CONTROL_COMMANDS: readonly Command[] = [
  {
    name: "up",
    summary:
      "start nats-server, a coordinator and N nodes on this machine, write RUNDIR/manifest.json, supervise until Ctrl-C",
    usage: "daxsim up --nodes N [--dir RUNDIR] [--dimm-size 64M] [--persistence adr|eadr] [--nats URL]",
    load: () => import("./cmd_up.js"),
  },
  {
    name: "node",
    summary:
      "run one simulated machine serving NodeControl over gRPC; events to JetStream; restarts from its durable log",
    usage:
      "daxsim node --id n1 --nats URL [--grpc 127.0.0.1:0] [--dimm-size 64M] [--persistence adr|eadr] [--mount OPTS] [--seed S]",
    load: () => import("./cmd_node.js"),
  },
  {
    name: "coordinator",
    summary: "run the Coordinator gRPC service: ingest into SQLite, node discovery on NATS, power-loss injection",
    usage: "daxsim coordinator --nats URL --db FILE [--grpc 127.0.0.1:0]",
    load: () => import("./cmd_coordinator.js"),
  },
  {
    name: "status",
    summary: "show the nodes a coordinator knows and its ingest: lag, gaps, the log's events and this session's",
    usage: "daxsim status [--coordinator ADDR | --dir RUNDIR] [--json]",
    load: () => import("./cmd_status.js"),
  },
  {
    name: "exec",
    summary: "run a JSON workload on a running node through the coordinator; one JSON record per op",
    usage: "daxsim exec --node n1 WORKLOAD.json [--session NAME] [--coordinator ADDR | --dir RUNDIR]",
    load: () => import("./cmd_exec.js"),
  },
  {
    name: "powerloss",
    summary: "inject a power loss (or a kill) on one or more nodes: now, at a seq, after k ops, after a seeded delay",
    usage:
      "daxsim powerloss --node n1 [--node n2 …] [--at-seq S | --after-ops K | --after-ms T] [--policy strict|random|torn|eadr-like] [--seed X] [--kill] [--timeout-ms MS] [--coordinator ADDR | --dir RUNDIR]",
    load: () => import("./cmd_powerloss.js"),
  },
  {
    name: "events",
    summary: "print events from the coordinator's SQLite log as JSON lines; --follow for live ones",
    usage:
      "daxsim events [--node n1] [--kind KIND]… [--from-seq S] [--max N] [--follow] [--coordinator ADDR | --dir RUNDIR]",
    load: () => import("./cmd_events.js"),
  },
];
