// The page's two Mermaid diagrams, drawn from the model:
//   servers: each server (a box holding its server node, services and paths),
//            and what each service depends on
//   usage:   jobs (by their tags) -> the runners that can take them -> the
//            server or the autoscaled machines they run on -> the data they
//            write -> the jobs that read it, down to the Solr index
// Node keys: "srv:<host>" for a server (one node per server in each diagram),
// "svc:<host>:<name>", "path:<host>:<name>", "ext:<name>", "run:<host>:<name>",
// "fleet:<host>:<name>", "job:<index>".
import { bytes } from './format.js';
import { Flowchart } from './mermaid.js';
import type { Node, PageModel, ServerModel, ServiceModel } from './model.js';
import type { RunnerInfo } from './runners.js';

export const serverKey = (host: string) => `srv:${host}`;

function nodeKey(n: Node): string {
  return n.kind === 'external' ? `ext:${n.name}` : `${n.kind === 'service' ? 'svc' : 'path'}:${n.host}:${n.name}`;
}

function serverLabel(s: ServerModel): string[] {
  const m = s.measure;
  const size = m
    ? `${m.cpus} CPU · ${bytes(m.memBytes)} RAM`
    : [s.size?.cpus && `${s.size.cpus} CPU`, s.size?.ram_gb && `${s.size.ram_gb} GB RAM`].filter(Boolean).join(' · ');
  return [s.name, s.address, ...(size ? [size] : [])];
}

function serviceLabel(s: ServiceModel): string[] {
  const reach = s.ports.length ? `${s.ports.map((p) => `:${p}`).join(' ')} ${s.listen === 'local' ? 'local only' : s.listen === 'public' ? 'public' : ''}`.trim() : s.listen === 'local' ? 'local only' : '';
  return [s.name, ...(s.unit ? [s.unit] : []), ...(reach ? [reach] : [])];
}

function styles(f: Flowchart): void {
  f.classDef('server', 'fill:#e8eefc,stroke:#3358c4,stroke-width:2px');
  f.classDef('public', 'fill:#eafaea,stroke:#2d8a2d');
  f.classDef('service', 'fill:#ffffff,stroke:#2d8a2d');
  f.classDef('local', 'fill:#fff6e0,stroke:#b07800,stroke-dasharray:4 3');
  f.classDef('data', 'fill:#f4f4f4,stroke:#777');
  f.classDef('external', 'fill:#ffffff,stroke:#999,stroke-dasharray:2 2');
  f.classDef('job', 'fill:#f3e8fc,stroke:#7a33c4');
  f.classDef('stuck', 'fill:#fde8e8,stroke:#c43333');
  f.classDef('runner', 'fill:#e8f7fc,stroke:#1f7a99');
}

export function serversDiagram(model: PageModel): string {
  const f = new Flowchart('LR');
  for (const s of model.servers) {
    f.subgraph(`grp:${s.name}`, s.description ? `${s.name}: ${s.description}` : s.name, () => {
      f.node(serverKey(s.name), serverLabel(s), 'subroutine', 'server');
      for (const svc of s.services) f.node(`svc:${s.name}:${svc.name}`, serviceLabel(svc), 'round', svc.listen ?? 'service');
      for (const p of s.paths) {
        const size = s.measure?.paths.find((x) => x.path === p.path);
        f.node(`path:${s.name}:${p.name}`, [p.name, p.path, ...(size?.bytes !== undefined ? [bytes(size.bytes)] : [])], 'cylinder', 'data');
      }
    });
  }
  const externals = new Set<string>();
  for (const s of model.servers) for (const svc of s.services) for (const d of svc.deps) if (d.kind === 'external') externals.add(d.name);
  for (const name of externals) f.node(`ext:${name}`, [model.externals.get(name) ?? name], 'stadium', 'external');
  for (const s of model.servers) for (const svc of s.services) for (const d of svc.deps) f.edge(`svc:${s.name}:${svc.name}`, nodeKey(d));
  styles(f);
  return f.toString();
}

export function usageDiagram(model: PageModel): string {
  // top to bottom: the chain is long, the ranks are narrow
  const f = new Flowchart('TB');
  const runnerKey = (r: RunnerInfo) => `run:${r.host}:${r.name}`;
  const fleetKey = (r: RunnerInfo) => `fleet:${r.host}:${r.name}`;
  const execKey = (r: RunnerInfo) => (r.executor === 'docker+machine' ? fleetKey(r) : serverKey(r.host));

  model.jobs.forEach((j, i) => {
    const row = model.routes.find((r) => r.jobs.includes(j.name));
    const stuck = !row || row.eligible.length === 0;
    f.node(`job:${i}`, [j.name, j.tags.length ? `tags: ${j.tags.join(', ')}` : 'untagged', ...(stuck ? ['no runner can take it'] : [])], 'stadium', stuck ? 'stuck' : 'job');
  });
  for (const r of model.runners) f.node(runnerKey(r), [r.name, `${r.executor}${r.limit ? ` · limit ${r.limit}` : ''}`], 'box', 'runner');
  for (const s of model.servers) f.node(serverKey(s.name), [...serverLabel(s).slice(0, 2), ...(s.runners.length ? [] : ['no runner'])], 'subroutine', 'server');
  for (const fl of model.fleets) {
    const r = fl.runner;
    f.node(fleetKey(r), [`autoscaled machines${fl.cap ? ` (at most ${fl.cap})` : ''}`, ...(fl.commercialType ? [fl.commercialType] : []), ...(r.machine?.driver ? [`driver ${r.machine.driver}`] : [])], 'cylinder', 'data');
  }
  const dataNodes = new Map<string, string[]>();
  const dataLabel = (n: Node) => (n.kind === 'external' ? [model.externals.get(n.name) ?? n.name] : [n.name, `on ${n.host}`]);
  for (const j of model.jobs) for (const n of [...j.reads, ...j.writes]) dataNodes.set(nodeKey(n), dataLabel(n));
  for (const [key, label] of dataNodes) f.node(key, label, 'cylinder', 'data');

  const edges = new Set<string>();
  const edge = (a: string, b: string, label?: string, style: 'solid' | 'dotted' | 'thick' = 'solid') => {
    const k = `${a}>${b}>${label ?? ''}>${style}`;
    if (edges.has(k)) return;
    edges.add(k);
    f.edge(a, b, label, style);
  };
  model.jobs.forEach((j, i) => {
    const row = model.routes.find((r) => r.jobs.includes(j.name));
    for (const n of j.reads) edge(nodeKey(n), `job:${i}`, 'read by', 'dotted');
    for (const r of row?.eligible ?? []) edge(`job:${i}`, runnerKey(r), 'tags match');
  });
  for (const r of model.runners) {
    edge(runnerKey(r), serverKey(r.host), r.executor === 'docker+machine' ? 'managed by' : 'runs on');
    if (r.executor === 'docker+machine') edge(serverKey(r.host), fleetKey(r), 'creates');
  }
  model.jobs.forEach((j) => {
    const row = model.routes.find((r) => r.jobs.includes(j.name));
    for (const r of row?.eligible ?? []) for (const w of j.writes) edge(execKey(r), nodeKey(w), `${j.name} writes`, 'thick');
  });
  styles(f);
  return f.toString();
}
