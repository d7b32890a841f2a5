// Edits the `tags:` lists of the jobs of a .gitlab-ci.yml and nothing else.
//
// The file is parsed with the `yaml` package (source ranges of every node) and
// the new text is made by splicing the old one: comments, anchors, key order,
// quoting and the other jobs stay byte-for-byte. Every edit is verified before
// it is returned: the new text must parse, every job must end up with exactly
// the tags it should have, and the file with its tags removed must be the same
// data as before. What cannot be edited that way is reported ("unsafe"), never
// written; a file that does not parse is reported ("unparsable").
//
// Where a job's tags come from, as GitLab resolves them (first hit wins):
//   1. the job's own `tags:` (a list, an alias `*x` to a list, or `!reference [.t, tags]`);
//   2. YAML merge keys `<<: *anchor` / `<<: [*a, *b]` (earlier ones win), recursively;
//   3. `extends: .t` / `extends: [.a, .b]` (later ones win), recursively;
//   4. `default: tags:`, unless the job has `inherit: default: false` (or a list without `tags`).
// Decisions about inherited tags:
//   - a list the tags come from is edited where it is written: a template's or
//     the default's list is mapped (docker -> download-convert) once, for every
//     job that uses it;
//   - a job's extra tags (job_extra_tags, e.g. autoscale for `download`) go into
//     the job's own list only; when the job inherits its list (or shares it with
//     other jobs through an anchor), the job gets its own `tags:` key instead,
//     so no other job is sent to another runner;
//   - jobs that extend a template that is not in the file (from an `include:`)
//     and define no tags of their own cannot be resolved: they are listed in
//     `notes` and left alone.
import { isAlias, isMap, isPair, isScalar, isSeq, parseAllDocuments, type Document, type Node, type Pair, type YAMLMap, type YAMLSeq } from 'yaml';

/** old tag -> the tags that replace it; job name -> tags that job gets in addition when it moves */
export interface TagMapping {
  tagMap: Record<string, string[]>;
  jobExtraTags?: Record<string, string[]>;
}

export interface JobTags {
  job: string;
  /** the job's effective tags; null when they cannot be known from this file */
  tags: string[] | null;
  /** where they come from: "own", "<< *anchor", "extends .t", "default", "none", or why unknown */
  from: string;
}

export interface JobChange {
  job: string;
  before: string[];
  after: string[];
}

export type CiJobsResult = { ok: true; jobs: JobTags[]; notes: string[] } | { ok: false; error: string };

export type RetagResult =
  /** YAML errors: the file is left alone */
  | { status: 'unparsable'; error: string }
  /** parsed, but the tags cannot be changed safely by splicing: the file is left alone */
  | { status: 'unsafe'; error: string }
  /** no job uses an old tag */
  | { status: 'unchanged'; jobs: JobTags[]; notes: string[] }
  | { status: 'changed'; text: string; changes: JobChange[]; jobs: JobTags[]; notes: string[] };

/** Keywords of the top level that are not jobs (GitLab CI/CD YAML reference). */
const GLOBAL_KEYWORDS = new Set(['default', 'include', 'stages', 'variables', 'workflow', 'image', 'services', 'cache', 'before_script', 'after_script', 'spec']);
const MAX_EXTENDS_DEPTH = 11; // GitLab's own limit

type SeqNode = YAMLSeq<unknown>;
type MapNode = YAMLMap<unknown, unknown>;

/** A parsed CI file: the document holding the jobs and the top-level entries by name. */
class CiFile {
  /** top-level entries; `aliased`: the entry's value is an alias to a mapping written elsewhere */
  readonly entries = new Map<string, { pair: Pair<unknown, unknown>; map: MapNode | null; aliased: boolean }>();
  constructor(
    readonly src: string,
    /** null: an empty file */
    readonly doc: Document.Parsed | null,
  ) {
    const root = doc?.contents ?? null;
    if (isMap(root)) {
      for (const pair of root.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : null;
        if (key === null) continue;
        const value = this.deref(pair.value as Node | null);
        this.entries.set(key, { pair, map: isMap(value) ? value : null, aliased: isAlias(pair.value) });
      }
    }
  }

  static parse(src: string): CiFile | { error: string } {
    const docs = parseAllDocuments(src, { keepSourceTokens: true, prettyErrors: true, uniqueKeys: true, customTags: [referenceTag] });
    if (!Array.isArray(docs)) return { error: 'empty stream' };
    for (const d of docs) {
      if (d.errors.length) return { error: firstLine(d.errors[0].message) };
    }
    // A CI file is one document, or a `spec:` header document and the config.
    let doc = docs[0];
    if (docs.length === 2 && isMap(docs[0].contents) && docs[0].contents.items.every((p) => isScalar(p.key) && p.key.value === 'spec')) doc = docs[1];
    else if (docs.length > 1) return { error: `expected one YAML document (or a spec: header and one document), found ${docs.length}` };
    if (!doc || doc.contents === null) return new CiFile(src, null);
    if (!isMap(doc.contents)) return { error: 'expected a mapping of jobs and keywords at the top level' };
    return new CiFile(src, doc as Document.Parsed);
  }

  /** Jobs: top-level entries that are not keywords and not hidden (".name"). */
  jobNames(): string[] {
    return [...this.entries.keys()].filter((k) => !GLOBAL_KEYWORDS.has(k) && !k.startsWith('.') && this.entries.get(k)!.map !== null);
  }

  deref(n: Node | null | undefined): Node | null {
    let node = n ?? null;
    for (let i = 0; i < 20 && node && isAlias(node) && this.doc; i++) node = (node.resolve(this.doc) as Node | undefined) ?? null;
    return node;
  }

  ownPair(map: MapNode, key: string): Pair<unknown, unknown> | undefined {
    return map.items.find((p) => isScalar(p.key) && p.key.value === key);
  }

  /** Maps merged into `map` by `<<`, in precedence order. */
  merged(map: MapNode): MapNode[] {
    const out: MapNode[] = [];
    for (const p of map.items) {
      if (!(isScalar(p.key) && p.key.value === '<<')) continue;
      const v = p.value as Node | null;
      const sources = isSeq(v) ? (v.items as Node[]) : [v];
      for (const s of sources) {
        const m = this.deref(s);
        if (isMap(m)) out.push(m);
      }
    }
    return out;
  }

  /** A key of a mapping, own first, then through its merge keys. */
  lookup(map: MapNode, key: string, depth = 0): Pair<unknown, unknown> | undefined {
    const own = this.ownPair(map, key);
    if (own || depth > 20) return own;
    for (const m of this.merged(map)) {
      const hit = this.lookup(m, key, depth + 1);
      if (hit) return hit;
    }
    return undefined;
  }
}

/** GitLab's `!reference [.job, key, ...]`, kept as a sequence so it can be followed. */
const referenceTag = { tag: '!reference', collection: 'seq' as const, resolve: (seq: unknown) => seq };

interface Source {
  /** the list the tags are read from (null: the job has no tags) */
  list: SeqNode | null;
  tags: string[] | null;
  from: string;
  /** the job's own `tags:` pair, when it has one */
  ownPair?: Pair<unknown, unknown>;
}

function firstLine(s: string): string {
  return s.split('\n')[0].trim();
}

function lineOf(src: string, offset: number): number {
  let n = 1;
  for (let i = 0; i < offset && i < src.length; i++) if (src.charCodeAt(i) === 10) n++;
  return n;
}

/** The tags a list holds, or an error when an item is not a plain string. */
function listTags(list: SeqNode): string[] | string {
  const out: string[] = [];
  for (const item of list.items) {
    if (!isScalar(item) || typeof item.value !== 'string') return 'a tags item that is not a string';
    out.push(item.value);
  }
  return out;
}

class Resolver {
  constructor(readonly ci: CiFile) {}

  /** The list a `tags:` value stands for: a list, an alias to one, or !reference [.t, tags]. */
  tagsValue(value: Node | null, depth = 0): { list: SeqNode | null; why?: string } {
    const v = this.ci.deref(value);
    if (isSeq(v) && v.tag === '!reference') {
      if (depth > 10) return { list: null, why: '!reference nested too deep' };
      const path = (v.items as Node[]).map((i) => (isScalar(i) ? String(i.value) : null));
      if (path.some((p) => p === null) || path.length < 2) return { list: null, why: 'an !reference that is not a list of names' };
      let node: Node | null = this.ci.entries.get(path[0]!)?.map ?? null;
      for (const k of path.slice(1)) {
        const m = this.ci.deref(node);
        if (!isMap(m)) return { list: null, why: `!reference [${path.join(', ')}] points outside this file` };
        node = (this.ci.lookup(m, k!)?.value as Node | null) ?? null;
      }
      if (node === null) return { list: null, why: `!reference [${path.join(', ')}] points outside this file` };
      return this.tagsValue(node, depth + 1);
    }
    if (isSeq(v)) return { list: v };
    if (v === null || (isScalar(v) && v.value === null)) return { list: null };
    return { list: null, why: 'tags is not a list' };
  }

  /** Tags defined by a mapping itself or its merge keys (not extends/default). */
  mapTags(map: MapNode, depth = 0): Source | null {
    const own = this.ci.ownPair(map, 'tags');
    if (own) {
      const { list, why } = this.tagsValue(own.value as Node | null);
      if (why) return { list: null, tags: null, from: why, ownPair: own };
      const tags = list ? listTags(list) : [];
      if (typeof tags === 'string') return { list: null, tags: null, from: tags, ownPair: own };
      return { list, tags, from: 'own', ownPair: own };
    }
    if (depth > 20) return null;
    for (const m of this.ci.merged(map)) {
      const hit = this.mapTags(m, depth + 1);
      if (hit) {
        const anchor = m.anchor ? `<< *${m.anchor}` : '<<';
        return { list: hit.list, tags: hit.tags, from: hit.from === 'own' ? anchor : hit.from };
      }
    }
    return null;
  }

  /** Tags a job or template defines itself, through merge keys or through extends (not default). */
  chain(name: string, depth = 0): Source | null {
    const map = this.ci.entries.get(name)?.map;
    if (!map) return { list: null, tags: null, from: `${name} is not in this file` };
    const direct = this.mapTags(map);
    if (direct) return direct;
    if (depth >= MAX_EXTENDS_DEPTH) return { list: null, tags: null, from: 'extends nested too deep' };
    // Later templates win.
    for (const t of [...this.extendsOf(map)].reverse()) {
      if (!this.ci.entries.get(t)?.map) return { list: null, tags: null, from: `extends ${t}, which is not in this file (included?)` };
      const hit = this.chain(t, depth + 1);
      if (hit) return { list: hit.list, tags: hit.tags, from: hit.from === 'own' ? `extends ${t}` : hit.from };
    }
    return null;
  }

  /** Effective tags of a job, as GitLab resolves them. */
  resolve(name: string): Source {
    const hit = this.chain(name);
    if (hit) return hit;
    if (this.inheritsDefaultTags(name)) {
      const def = this.ci.entries.get('default')?.map;
      const d = def ? this.mapTags(def) : null;
      if (d) return { list: d.list, tags: d.tags, from: d.tags === null ? d.from : 'default' };
    }
    return { list: null, tags: [], from: 'none' };
  }

  extendsOf(map: MapNode): string[] {
    const ext = this.ci.lookup(map, 'extends');
    if (!ext) return [];
    const v = this.ci.deref(ext.value as Node | null);
    return isSeq(v) ? (v.items as Node[]).map((i) => (isScalar(i) ? String(i.value) : '')) : isScalar(v) ? [String(v.value)] : [];
  }

  /** A keyword of a job as extends merges it: own and merge keys first, then later templates. */
  keyword(name: string, key: string, depth = 0): Node | null {
    const map = this.ci.entries.get(name)?.map;
    if (!map) return null;
    const own = this.ci.lookup(map, key);
    if (own) return this.ci.deref(own.value as Node | null);
    if (depth >= MAX_EXTENDS_DEPTH) return null;
    for (const t of [...this.extendsOf(map)].reverse()) {
      const hit = this.keyword(t, key, depth + 1);
      if (hit) return hit;
    }
    return null;
  }

  inheritsDefaultTags(name: string): boolean {
    const inherit = this.keyword(name, 'inherit');
    if (!isMap(inherit)) return true;
    const d = this.ci.deref(this.ci.ownPair(inherit, 'default')?.value as Node | null);
    if (isScalar(d) && d.value === false) return false;
    if (isSeq(d)) return (d.items as Node[]).some((i) => isScalar(i) && i.value === 'tags');
    return true;
  }
}

/** The effective tags of every job of a CI file (for gates and for reporting). */
export function readJobTags(src: string): CiJobsResult {
  const ci = CiFile.parse(src);
  if (!(ci instanceof CiFile)) return { ok: false, error: ci.error };
  const r = new Resolver(ci);
  const jobs = ci.jobNames().map((job) => {
    const s = r.resolve(job);
    return { job, tags: s.tags, from: s.from };
  });
  return { ok: true, jobs, notes: jobs.filter((j) => j.tags === null).map((j) => `job ${j.job}: tags unknown (${j.from}), left alone`) };
}

/** Whether a job's tags contain one of the tags being replaced. */
function usesOld(tags: string[], m: TagMapping): boolean {
  return tags.some((t) => Object.hasOwn(m.tagMap, t));
}

/** Old tags replaced in place by their new tags, without duplicates. */
export function mapTags(tags: string[], m: TagMapping): string[] {
  if (!usesOld(tags, m)) return [...tags];
  const out: string[] = [];
  const add = (t: string) => void (out.includes(t) ? undefined : out.push(t));
  for (const t of tags) (Object.hasOwn(m.tagMap, t) ? m.tagMap[t] : [t]).forEach(add);
  return out;
}

/** The tags a job must have after the move: mapped, plus its extra tags if it moved. */
export function wantedTags(job: string, tags: string[], m: TagMapping): string[] {
  if (!usesOld(tags, m)) return [...tags];
  const out = mapTags(tags, m);
  for (const t of m.jobExtraTags?.[job] ?? []) if (!out.includes(t)) out.push(t);
  return out;
}

interface Splice {
  from: number;
  to: number;
  text: string;
}

class UnsafeEdit extends Error {}

/** Replace `old` tags (text of the file) with `wanted` in the jobs' tags lists. */
export function retagCi(src: string, m: TagMapping): RetagResult {
  const ci = CiFile.parse(src);
  if (!(ci instanceof CiFile)) return { status: 'unparsable', error: ci.error };
  const r = new Resolver(ci);
  const names = ci.jobNames();
  const sources = new Map(names.map((n) => [n, r.resolve(n)]));
  const jobs: JobTags[] = names.map((n) => ({ job: n, tags: sources.get(n)!.tags, from: sources.get(n)!.from }));
  const notes = jobs.filter((j) => j.tags === null).map((j) => `job ${j.job}: tags unknown (${j.from}), left alone`);
  const wanted = new Map<string, string[]>();
  for (const n of names) {
    const t = sources.get(n)!.tags;
    if (t) wanted.set(n, wantedTags(n, t, m));
  }
  const moving = names.filter((n) => sources.get(n)!.tags && usesOld(sources.get(n)!.tags!, m));
  // Templates and the default may hold the old tag without any job of this file using them.
  const lists = new Set<SeqNode>();
  for (const [name, entry] of ci.entries) {
    if (!entry.map || !(name.startsWith('.') || name === 'default' || names.includes(name))) continue;
    const own = ci.ownPair(entry.map, 'tags');
    const { list } = own ? r.tagsValue(own.value as Node | null) : { list: null };
    if (list) lists.add(list);
  }
  for (const s of sources.values()) if (s.list) lists.add(s.list);
  const stale = [...lists].filter((l) => {
    const t = listTags(l);
    return typeof t !== 'string' && usesOld(t, m);
  });
  const uneditable = [...lists].find((l) => typeof listTags(l) === 'string' && l.items.some((i) => isScalar(i) && typeof i.value === 'string' && Object.hasOwn(m.tagMap, i.value)));
  if (uneditable) return { status: 'unsafe', error: `tags list at line ${lineOf(src, uneditable.range![0])} has an item that is not a string` };
  if (moving.length === 0 && stale.length === 0) return { status: 'unchanged', jobs, notes };

  try {
    const splices = planSplices(ci, r, names, sources, wanted, lists, m);
    const text = applySplices(src, splices);
    verify(src, text, wanted);
    const changes = names
      .filter((n) => wanted.has(n) && wanted.get(n)!.join('\0') !== sources.get(n)!.tags!.join('\0'))
      .map((n) => ({ job: n, before: sources.get(n)!.tags!, after: wanted.get(n)! }));
    if (text === src) return { status: 'unchanged', jobs, notes };
    return { status: 'changed', text, changes, jobs, notes };
  } catch (e) {
    if (e instanceof UnsafeEdit) return { status: 'unsafe', error: e.message };
    throw e;
  }
}

function planSplices(ci: CiFile, r: Resolver, names: string[], sources: Map<string, Source>, wanted: Map<string, string[]>, lists: Set<SeqNode>, m: TagMapping): Splice[] {
  const users = new Map<SeqNode, string[]>();
  for (const n of names) {
    const l = sources.get(n)!.list;
    if (l) users.set(l, [...(users.get(l) ?? []), n]);
  }
  /** the job whose own mapping literally holds this list */
  const holder = (l: SeqNode) => names.find((n) => sources.get(n)!.ownPair?.value === l);
  const target = new Map<SeqNode, string[]>();
  const ownValue: string[] = [];
  for (const l of lists) {
    const t = listTags(l);
    if (typeof t === 'string') {
      if ((users.get(l) ?? []).some((u) => wanted.get(u)!.join('\0') !== sources.get(u)!.tags!.join('\0')))
        throw new UnsafeEdit(`tags list at line ${lineOf(ci.src, l.range![0])} has ${t}`);
      continue;
    }
    const h = holder(l);
    const want = h ? wanted.get(h)! : mapTags(t, m);
    target.set(l, want);
    for (const u of users.get(l) ?? []) if (u !== h && wanted.get(u)!.join('\0') !== want.join('\0')) ownValue.push(u);
  }
  const splices: Splice[] = [];
  for (const [l, want] of target) {
    const have = listTags(l) as string[];
    if (have.join('\0') !== want.join('\0')) splices.push(...listSplices(ci.src, l, want));
  }
  for (const u of ownValue) splices.push(ownTagsSplice(ci, u, sources.get(u)!, wanted.get(u)!));
  return splices;
}

function applySplices(src: string, splices: Splice[]): string {
  const sorted = [...splices].sort((a, b) => a.from - b.from || a.to - b.to);
  let out = '';
  let at = 0;
  for (const s of sorted) {
    if (s.from < at) throw new UnsafeEdit('overlapping edits (a tags list used in several ways)');
    out += src.slice(at, s.from) + s.text;
    at = s.to;
  }
  return out + src.slice(at);
}

/** The new text must parse, give every job the wanted tags, and be the same data once tags are set aside. */
function verify(before: string, after: string, wanted: Map<string, string[]>): void {
  const ci = CiFile.parse(after);
  if (!(ci instanceof CiFile)) throw new UnsafeEdit(`the edited file would not parse (${ci.error})`);
  const r = new Resolver(ci);
  for (const [job, want] of wanted) {
    const got = r.resolve(job).tags;
    if (!got || got.join('\0') !== want.join('\0')) throw new UnsafeEdit(`job ${job} would get tags [${got?.join(', ') ?? '?'}] instead of [${want.join(', ')}]`);
  }
  const old = CiFile.parse(before) as CiFile;
  const oldLists = tagLists(old);
  // An anchored list that held tags before holds them after (its aliases may have gone).
  const anchors = new Set([...oldLists].map((l) => l.anchor).filter(Boolean));
  const newLists = tagLists(ci);
  visitSeqs(ci, (l) => void (l.anchor && anchors.has(l.anchor) && newLists.add(l)));
  if (JSON.stringify(withoutTags(old, oldLists)) !== JSON.stringify(withoutTags(ci, newLists))) throw new UnsafeEdit('the edit would change more than tags');
}

/** Every list that holds tags: the tags: values of jobs, templates and default, and the lists jobs take their tags from. */
function tagLists(ci: CiFile): Set<SeqNode> {
  const r = new Resolver(ci);
  const out = new Set<SeqNode>();
  for (const entry of ci.entries.values()) {
    if (!entry.map) continue;
    const own = ci.ownPair(entry.map, 'tags');
    if (own && isSeq(own.value)) out.add(own.value as SeqNode);
    const { list } = own ? r.tagsValue(own.value as Node | null) : { list: null };
    if (list) out.add(list);
  }
  for (const job of ci.jobNames()) {
    const l = r.resolve(job).list;
    if (l) out.add(l);
  }
  return out;
}

function visitSeqs(ci: CiFile, fn: (l: SeqNode) => void): void {
  const walk = (n: unknown, depth: number): void => {
    if (depth > 50 || !n || typeof n !== 'object') return;
    if (isSeq(n)) fn(n as SeqNode);
    if (isMap(n) || isSeq(n)) for (const it of (n as MapNode | SeqNode).items) walk(it, depth + 1);
    if (isPair(n)) {
      walk(n.key, depth + 1);
      walk(n.value, depth + 1);
    }
  };
  walk(ci.doc?.contents, 0);
}

/** The file's data with merge keys applied, every `tags` key and every tags list set aside. */
function withoutTags(ci: CiFile, lists: Set<SeqNode>): unknown {
  if (!ci.doc) return null;
  for (const l of lists) l.items = [];
  return dropTags(ci.doc.toJS({ maxAliasCount: 1000 }));
}

function dropTags(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropTags);
  if (!v || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  if ('<<' in o) {
    // earlier merge sources win
    const sources = Array.isArray(o['<<']) ? (o['<<'] as unknown[]) : [o['<<']];
    for (const s of [...sources].reverse()) if (s && typeof s === 'object') Object.assign(out, dropTags(s));
  }
  for (const [k, x] of Object.entries(o)) if (k !== '<<' && k !== 'tags') out[k] = dropTags(x);
  return out;
}

// ---------- text edits of one list ----------

type Style = 'PLAIN' | 'QUOTE_DOUBLE' | 'QUOTE_SINGLE';

function scalarText(tag: string, style: Style): string {
  if (style === 'QUOTE_SINGLE') return `'${tag.replace(/'/g, "''")}'`;
  if (style === 'PLAIN' && /^[A-Za-z0-9_][A-Za-z0-9_./@+=-]*$/.test(tag) && !/^(true|false|null|yes|no|on|off|~)$/i.test(tag) && !/^[-+]?\d/.test(tag)) return tag;
  return JSON.stringify(tag);
}

type Op = { kind: 'keep' | 'del'; i: number } | { kind: 'ins'; tag: string };

/** Keep, delete and insert operations from `have` to `want` (longest common subsequence). */
function listOps(have: string[], want: string[]): Op[] {
  const n = have.length;
  const k = want.length;
  const lcs = Array.from({ length: n + 1 }, () => new Array<number>(k + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = k - 1; j >= 0; j--) lcs[i][j] = have[i] === want[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < k) {
    if (i < n && j < k && have[i] === want[j]) {
      ops.push({ kind: 'keep', i });
      i++;
      j++;
    } else if (i < n && (j >= k || lcs[i + 1][j] >= lcs[i][j + 1])) ops.push({ kind: 'del', i: i++ });
    else ops.push({ kind: 'ins', tag: want[j++] });
  }
  return ops;
}

/** Group ops so that a deletion next to an insertion becomes a replacement in place (keeps the item's comment). */
function editsOf(ops: Op[]): Array<{ kind: 'keep' | 'del'; i: number } | { kind: 'repl'; i: number; tag: string } | { kind: 'ins'; tag: string; after: number | null }> {
  const out: ReturnType<typeof editsOf> = [];
  let last: number | null = null; // index of the last item that stays (kept or replaced)
  for (let x = 0; x < ops.length; ) {
    const dels: number[] = [];
    const ins: string[] = [];
    while (x < ops.length && ops[x].kind !== 'keep') {
      const o = ops[x++];
      if (o.kind === 'del') dels.push(o.i);
      else if (o.kind === 'ins') ins.push(o.tag);
    }
    const pairs = Math.min(dels.length, ins.length);
    for (let p = 0; p < pairs; p++) out.push({ kind: 'repl', i: dels[p], tag: ins[p] });
    if (pairs > 0) last = dels[pairs - 1];
    for (const d of dels.slice(pairs)) out.push({ kind: 'del', i: d });
    for (const t of ins.slice(pairs)) out.push({ kind: 'ins', tag: t, after: last });
    if (x < ops.length) {
      const o = ops[x++] as { kind: 'keep'; i: number };
      out.push(o);
      last = o.i;
    }
  }
  return out;
}

function listSplices(src: string, list: SeqNode, want: string[]): Splice[] {
  const items = list.items as Array<Node & { type?: string }>;
  const have = items.map((i) => String((i as { value?: unknown }).value));
  for (const it of items) {
    if (!isScalar(it) || !it.range) throw new UnsafeEdit(`tags list at line ${lineOf(src, list.range![0])} has an item that is not a plain string`);
    if (src.slice(it.range[0], it.range[1]).includes('\n')) throw new UnsafeEdit(`tags list at line ${lineOf(src, it.range[0])} has an item on several lines`);
  }
  const style = (items[0]?.type as Style | undefined) && ['PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE'].includes(items[0].type!) ? (items[0].type as Style) : 'PLAIN';
  if (want.length === 0 || items.length === 0) {
    // Rare: an empty list on either side; write it as a flow list.
    return [{ from: list.range![0], to: list.range![1], text: `[${want.map((t) => scalarText(t, style)).join(', ')}]` }];
  }
  const edits = editsOf(listOps(have, want));
  return list.flow ? flowSplices(src, list, edits, style) : blockSplices(src, list, edits, style);
}

function blockSplices(src: string, list: SeqNode, edits: ReturnType<typeof editsOf>, style: Style): Splice[] {
  const items = list.items as Node[];
  const line = items.map((it) => {
    const [s, e] = it.range!;
    const start = src.lastIndexOf('\n', s - 1) + 1;
    const prefix = src.slice(start, s);
    if (!/^[ \t]*-[ \t]+$/.test(prefix)) throw new UnsafeEdit(`tags list at line ${lineOf(src, s)}: an item that does not start its own line`);
    const nl = src.indexOf('\n', e);
    return { start, end: nl === -1 ? src.length : nl, prefix, s, e };
  });
  const splices: Splice[] = [];
  const inserts = new Map<number | null, string[]>();
  for (const ed of edits) {
    if (ed.kind === 'repl') splices.push({ from: line[ed.i].s, to: line[ed.i].e, text: scalarText(ed.tag, (items[ed.i] as { type?: Style }).type ?? style) });
    else if (ed.kind === 'del') splices.push({ from: line[ed.i].start, to: Math.min(line[ed.i].end + 1, src.length), text: '' });
    else if (ed.kind === 'ins') inserts.set(ed.after, [...(inserts.get(ed.after) ?? []), ed.tag]);
  }
  for (const [after, tags] of inserts) {
    if (after === null) {
      const first = line[0];
      splices.push({ from: first.start, to: first.start, text: tags.map((t) => `${first.prefix}${scalarText(t, style)}\n`).join('') });
    } else {
      // At the end of the item's line (after its comment), each tag on a line of its own.
      const l = line[after];
      splices.push({ from: l.end, to: l.end, text: tags.map((t) => `\n${l.prefix}${scalarText(t, style)}`).join('') });
    }
  }
  return splices.filter((s) => s.text !== '' || s.from !== s.to);
}

function flowSplices(src: string, list: SeqNode, edits: ReturnType<typeof editsOf>, style: Style): Splice[] {
  const items = list.items as Node[];
  const [ls, le] = list.range!;
  const text = src.slice(ls, le);
  const oneLine = !text.includes('\n') && !text.includes('#');
  if (oneLine) {
    // Rewrite between the brackets, kept items as they were written, with the list's own separator.
    const sep = items.length > 1 ? src.slice(items[0].range![1], items[1].range![0]) : ', ';
    const out: string[] = [];
    const pushIns = (t: string) => out.push(scalarText(t, style));
    const inserts = new Map<number | null, string[]>();
    for (const ed of edits) if (ed.kind === 'ins') inserts.set(ed.after, [...(inserts.get(ed.after) ?? []), ed.tag]);
    (inserts.get(null) ?? []).forEach(pushIns);
    const byIndex = new Map<number, (typeof edits)[number]>();
    for (const ed of edits) if (ed.kind !== 'ins') byIndex.set(ed.i, ed);
    items.forEach((it, i) => {
      const ed = byIndex.get(i);
      if (ed?.kind === 'repl') out.push(scalarText(ed.tag, (it as { type?: Style }).type ?? style));
      else if (ed?.kind !== 'del') out.push(src.slice(it.range![0], it.range![1]));
      (inserts.get(i) ?? []).forEach(pushIns);
    });
    const from = items[0].range![0];
    const to = items[items.length - 1].range![1];
    return [{ from, to, text: out.join(/^\s*,\s*$/.test(sep) ? sep : ', ') }];
  }
  // A list over several lines (maybe with comments): replacements and insertions in place only.
  const splices: Splice[] = [];
  for (const ed of edits) {
    if (ed.kind === 'del') throw new UnsafeEdit(`tags list at line ${lineOf(src, ls)} spans several lines: removing an item is left to a person`);
    if (ed.kind === 'repl') splices.push({ from: items[ed.i].range![0], to: items[ed.i].range![1], text: scalarText(ed.tag, (items[ed.i] as { type?: Style }).type ?? style) });
    if (ed.kind === 'ins') {
      const at = ed.after === null ? items[0].range![0] : items[ed.after].range![1];
      const t = scalarText(ed.tag, style);
      splices.push({ from: at, to: at, text: ed.after === null ? `${t}, ` : `, ${t}` });
    }
  }
  return splices;
}

/** Give a job its own `tags:` (it inherits or shares its list): replace its own value, or add the key. */
function ownTagsSplice(ci: CiFile, job: string, s: Source, want: string[]): Splice {
  const entry = ci.entries.get(job)!;
  if (entry.aliased) throw new UnsafeEdit(`job ${job} is an alias of another mapping: its tags cannot be set apart`);
  const map = entry.map!;
  const src = ci.src;
  const flowList = `[${want.map((t) => scalarText(t, 'PLAIN')).join(', ')}]`;
  if (s.ownPair) {
    // `tags: *alias` or `tags: !reference [...]`: the value is replaced, the key stays.
    const key = s.ownPair.key as Node;
    const colon = src.indexOf(':', key.range![1]);
    let from = colon + 1;
    while (from < src.length && /[ \t]/.test(src[from])) from++;
    const value = s.ownPair.value as Node;
    return { from, to: value.range![1], text: flowList };
  }
  const pairs = map.items;
  const after = [...pairs].reverse().find((p) => isScalar(p.key) && (p.key.value === '<<' || p.key.value === 'extends'));
  if (map.flow) {
    if (after) return { from: (after.value as Node).range![1], to: (after.value as Node).range![1], text: `, tags: ${flowList}` };
    const first = pairs[0].key as Node;
    return { from: first.range![0], to: first.range![0], text: `tags: ${flowList}, ` };
  }
  const firstKey = pairs[0]?.key as Node | undefined;
  if (!firstKey || !isPair(pairs[0])) throw new UnsafeEdit(`job ${job}: cannot find where to add its tags`);
  const lineStart = src.lastIndexOf('\n', firstKey.range![0] - 1) + 1;
  const indent = src.slice(lineStart, firstKey.range![0]);
  if (!/^[ \t]*$/.test(indent)) throw new UnsafeEdit(`job ${job}: its keys do not start their own lines`);
  if (!after) return { from: lineStart, to: lineStart, text: `${indent}tags: ${flowList}\n` };
  const end = (after.value as Node | null)?.range?.[1] ?? (after.key as Node).range![1];
  const nl = src.indexOf('\n', end);
  if (nl === -1) return { from: src.length, to: src.length, text: `\n${indent}tags: ${flowList}\n` };
  return { from: nl + 1, to: nl + 1, text: `${indent}tags: ${flowList}\n` };
}
