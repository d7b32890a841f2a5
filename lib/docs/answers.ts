// The planning document's questions, answered in two or three sentences from
// the configuration: which runners, which limits, which driver, which prices.
// What does not come from the inventory are facts of GitLab Runner and
// Scaleway (how a driver removes a server, what is billed while stopped, the
// removal of docker+machine), kept here as the sentences that use them.
import { and, duration, money, plural } from './format.js';
import type { FleetSummary } from './fleet.js';
import { code } from './markdown.js';
import type { PageModel } from './model.js';

export interface Answer {
  question: string;
  answer: string;
}

const names = (fleets: FleetSummary[]) => and(fleets.map((f) => code(f.runner.name)));

function stoppedCost(m: PageModel): Answer {
  const question = 'What do we pay for a stopped ("archived") machine?';
  if (!m.fleets.length) return { question, answer: 'No runner autoscales onto cloud machines, so there is no machine to stop.' };
  const c = m.prices.currency;
  const parts = m.fleets.map((f) => {
    const type = f.commercialType ?? 'machine';
    if (f.stoppedMonthly === undefined || f.volumeGb === undefined)
      return `the ${type} machines of ${code(f.runner.name)}: unknown, as the price list (\`docs.prices\`) has no root volume size, volume or IP price for ${type}`;
    const running = f.hourly !== undefined ? `, against ${money(f.hourly, c)} an hour (${money(f.hourly * 730, c)} a month) while it runs` : '';
    return `a ${type} machine of ${code(f.runner.name)} costs ${f.volumeGb} GB × ${money(m.prices.volumeGbMonth!, c)} per GB-month + one IP at ${money(m.prices.flexibleIpMonth!, c)} = **${money(f.stoppedMonthly, c)} a month** stopped${running}`;
  });
  return {
    question,
    answer: `A powered-off Scaleway instance (state \`stopped\`, what the console called *archived*) is not billed for compute, but its volumes and its flexible IP still are: ${parts.join('; ')}. \`stop_in_place\` is billed like a running instance, and every resource is billed for at least one hour.`,
  };
}

function archived(m: PageModel): Answer {
  const question = 'Why were machines archived, and not deleted or kept running?';
  if (!m.fleets.length) return { question, answer: 'No runner autoscales onto cloud machines.' };
  const byDriver = new Map<string, FleetSummary[]>();
  for (const f of m.fleets) byDriver.set(f.runner.machine?.driver ?? '', [...(byDriver.get(f.runner.machine?.driver ?? '') ?? []), f]);
  const sentences = [...byDriver].map(([driver, fleets]) => {
    if (driver === 'scaleway')
      return `gitlab-runner stops a machine before it removes it; the original \`scaleway\` driver (used by ${names(fleets)}) stops by powering the server off and removes by terminating it, which Scaleway refuses on a stopped server, so each removal can leave a powered-off server behind that still pays for its volume and IP. Such leftovers stay in docker-machine's store and count against the runner's limit until they are deleted with their volumes.`;
    if (driver === 'scaleway-v2')
      return `${names(fleets)} use${fleets.length === 1 ? 's' : ''} the \`scaleway-v2\` driver, which removes a machine by powering it off, deleting the server, then its volumes through the Instance API and its IP: servers no longer pile up, but a Block Storage (\`sbs_volume\`) root volume can be left behind and billed per GB.`;
    return `${names(fleets)} use${fleets.length === 1 ? 's' : ''} the \`${driver}\` docker-machine driver; how it removes servers is not described here.`;
  });
  const idle = m.fleets
    .map((f) => `idle machines of ${code(f.runner.name)} are removed after ${duration(f.runner.machine!.idleTime)} without a job`)
    .join('; ');
  return { question, answer: `${sentences.join(' ')} Nothing is kept running on purpose beyond the idle policy: ${idle}.` };
}

function garbage(m: PageModel): Answer {
  const question = 'How do we keep jobs from filling disks with Docker volumes (source-data, json-data)?';
  const parts: string[] = [];
  for (const f of m.fleets) {
    const mc = f.runner.machine!;
    parts.push(
      mc.maxBuilds
        ? `On the autoscaled machines of ${code(f.runner.name)}, \`MaxBuilds = ${mc.maxBuilds}\` removes a machine after ${plural(mc.maxBuilds, 'job')} and \`IdleTime = ${mc.idleTime}\` removes an idle one after ${duration(mc.idleTime)}, so a machine's volumes never hold more than ${plural(mc.maxBuilds, 'job')}' data and no cron job is needed on the machines.`
        : `The autoscaled machines of ${code(f.runner.name)} have no \`MaxBuilds\`: a busy machine keeps every job's volumes until it is idle for ${duration(mc.idleTime)} and removed; set \`MaxBuilds\` to bound it.`,
    );
  }
  for (const c of m.cleanup)
    parts.push(`On ${c.host}, rigger's docker-cleanup runs \`${c.schedule}\` and, once free space falls to ${c.threshold}, removes stopped runner containers, unused images and build cache older than ${c.grace}, then the runner's dangling volumes.`);
  const cleaned = new Set(m.cleanup.map((c) => c.host));
  const unbounded = [...new Set(m.runners.filter((r) => r.executor === 'docker' && !cleaned.has(r.host)).map((r) => r.host))];
  if (unbounded.length) parts.push(`${and(unbounded)} run${unbounded.length === 1 ? 's' : ''} Docker jobs without docker-cleanup: nothing bounds the volumes there.`);
  if (!parts.length) parts.push('No runner runs Docker jobs, so no job leaves Docker volumes behind.');
  return { question, answer: parts.join(' ') };
}

function cap(m: PageModel): Answer {
  const question = 'How is the number of machines kept from growing without bound?';
  if (!m.fleets.length) return { question, answer: 'No runner autoscales: the servers are the inventory\'s, one line each.' };
  const c = m.prices.currency;
  const parts = m.fleets.map((f) => {
    const r = f.runner;
    const mc = r.machine!;
    const cost = f.capHourly !== undefined ? ` (${money(f.capHourly, c)} an hour, ${money(f.capMonthly!, c)} a month at most)` : '';
    const capText = f.cap
      ? `\`limit = ${f.cap}\` on ${code(r.name)} caps the machines docker-machine keeps for it, those being created or removed included, so at most ${plural(f.cap, `${f.commercialType ?? ''} machine`.trim())} exist at once${cost}`
      : `${code(r.name)} has no \`limit\`: nothing caps its machines but \`concurrent\``;
    const growth = mc.maxGrowthRate ? `, at most ${mc.maxGrowthRate} being created at a time` : '';
    const waiting = mc.idleCount ? `beyond the ${plural(mc.idleCount, 'idle machine')} kept waiting` : 'none being kept waiting outside the idle periods';
    return `${capText}; \`concurrent = ${r.concurrent}\` on ${r.host} caps the jobs of all its runners, and machines are created for jobs${growth}, ${waiting} (see the idle policy above)`;
  });
  return { question, answer: `${parts.join('. ')}. A machine that fails to delete still counts against the limit, so a stuck removal lowers capacity rather than raising the bill.` };
}

function dockerMachineRemoval(m: PageModel): Answer {
  const question = 'What happens to docker+machine in GitLab 20.0?';
  const users = m.runners.filter((r) => r.executor === 'docker+machine');
  if (!users.length) return { question, answer: 'No runner of the inventory uses the docker+machine executor: its removal in GitLab 20.0 (May 2027) changes nothing here.' };
  return {
    question,
    answer: `The docker+machine executor, deprecated since GitLab Runner 17.5, is removed in GitLab 20.0 (May 2027), and ${and(users.map((r) => `${code(r.name)} on ${r.host}`))} use${users.length === 1 ? 's' : ''} it. Its successor is the \`docker-autoscaler\` executor with a fleeting plugin (\`[runners.autoscaler]\`, \`max_instances\` for the cap, \`[[runners.autoscaler.policy]]\` for idle capacity), whose official plugins cover Google Cloud, AWS and Azure only; for Scaleway there are only unreleased community plugins, so before May 2027 ${users.length === 1 ? 'this runner needs' : 'these runners need'} such a plugin, another provider, or static runners.`,
  };
}

function tagMatching(m: PageModel): Answer {
  const question = 'Does GitLab give a job to a runner with ANY of its tags, or ALL of them?';
  const example = m.routes.find((r) => r.eligible.length > 0 && r.missing.length > 0);
  const base = 'ALL: GitLab gives a job only to a runner that has every one of the job\'s tags (the runner may have more), and an untagged job only to a runner that accepts untagged jobs.';
  if (!example) return { question, answer: base };
  const miss = example.missing[0];
  return {
    question,
    answer: `${base} So a job tagged ${code(example.tags.join(', '))} can only run on ${and(example.eligible.map((r) => `${code(r.name)} (${r.host})`))}: ${code(miss.runner.name)} on ${miss.runner.host} has ${and(example.tags.filter((t) => !miss.lacks.includes(t)).map(code))} but not ${and(miss.lacks.map(code))}.`,
  };
}

function otherServers(m: PageModel): Answer {
  const question = 'Can autoscaling delete other servers of the Scaleway account (the mail server, ...)?';
  if (!m.fleets.length) return { question, answer: 'No runner autoscales: nothing creates or deletes cloud servers.' };
  const managers = and([...new Set(m.fleets.map((f) => f.runner.host))]);
  const patterns = and(m.fleets.map((f) => code(`runner-<token prefix>-${f.runner.machine!.machineName.replace('%s', '<id>')}`)));
  return {
    question,
    answer: `No: gitlab-runner on ${managers} only acts on the machines of its own docker-machine store (\`/root/.docker/machine/machines\`), which it names ${patterns}; it never lists the Scaleway project. A cleanup of leftovers must work the same way, from that store's server IDs, never from names alone, and is safest in a Scaleway project of its own.`,
  };
}

export function answers(m: PageModel): Answer[] {
  return [stoppedCost(m), archived(m), garbage(m), cap(m), dockerMachineRemoval(m), tagMatching(m), otherServers(m)];
}
