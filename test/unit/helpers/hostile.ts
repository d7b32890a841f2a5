// Values an inventory could hold that mean something to a shell. Each one
// that a script ran as code would create the canary file (or print
// "pwned"); passed as a value, it must arrive byte for byte, or be refused
// by validation with a clear error.

export const CANARY = '/tmp/rigger-canary';

/** Hostile values that would touch `canary` if a shell ran them as code. */
export function hostileValues(canary = CANARY): string[] {
  return [
    `$(touch ${canary})`,
    `\`touch ${canary}\``,
    `'; touch ${canary}; '`,
    `"; touch ${canary}; "`,
    `x\ntouch ${canary}`,
    `x\rtouch ${canary}`,
    `x && touch ${canary} || touch ${canary}`,
    `x | touch ${canary}`,
    `x; touch ${canary} #`,
    `$(printf %s ${canary} | xargs touch)`,
    `\${IFS}$(touch\${IFS}${canary})`,
    `-rf --help --`,
    `--output=${canary}`,
    `*`,
    `~root/.ssh`,
    `$HOME \${PATH} $((6*7)) $1 $@ $#`,
    `\\\\n \\' \\"`,
    `a\tb\u0000`.replace('\u0000', ''),
    `ünïcødé ☃ 日本語 🙂 \u202etxt.exe`,
    `%s %n %x`,
    `$'\\x41'`,
    `!! !$ ^a^b`,
    `<(touch ${canary}) >(touch ${canary}) > ${canary}`,
    `#not a comment`,
  ];
}

export const HOSTILE = hostileValues();

import type { Resource } from '../../../lib/engine/types.js';
import {
  aptPackages,
  aptRepository,
  authorizedKeys,
  command,
  cron,
  directory,
  download,
  file,
  group,
  link,
  service,
  sh,
  template,
  user,
} from '../../../lib/resources/index.js';

export interface HostileSetting {
  /** e.g. "file.content" */
  option: string;
  build: () => Resource | Resource[];
}

export interface HostileCatalogue {
  /** resources that took the value, ready to probe and apply */
  accepted: Array<{ option: string; resources: Resource[] }>;
  /** options that refused the value when declared, with the message */
  refused: Array<{ option: string; error: string }>;
}

export interface CatalogueEnv {
  /** a directory the resources may write into (on the host) */
  dir: string;
  /** an SSH public key line (its comment gets the value) */
  keyLine: string;
  /** a template with <%= v %> */
  template: string;
  /** a download that installs, for dest paths */
  download: { url: string; sha256: string };
}

/** The value as one path component: "/" is a separator, so it becomes "_". */
export const asName = (v: string) => v.replace(/\//g, '_');

/**
 * Every resource kind with the hostile value `v` (number `i`) in each option
 * that takes a value. Each factory either takes it (and the host must end up
 * with exactly that value, executing nothing) or refuses it with a clear
 * error, before anything reaches a host.
 */
export function hostileCatalogue(v: string, i: number, env: CatalogueEnv): HostileCatalogue {
  const base = `${env.dir}/${i}`;
  const name = asName(v);
  const settings: HostileSetting[] = [
    { option: 'file.path+content', build: () => file({ path: `${base}-f-${name}`, content: v }) },
    { option: 'file.owner', build: () => file({ path: `${base}-fo`, content: 'x', owner: v }) },
    { option: 'file.mode', build: () => file({ path: `${base}-fm`, content: 'x', mode: v }) },
    { option: 'template.vars', build: () => template({ path: `${base}-t`, src: env.template, vars: { v } }) },
    { option: 'directory.path', build: () => directory({ path: `${base}-d-${name}` }) },
    { option: 'directory.group', build: () => directory({ path: `${base}-dg`, group: v }) },
    { option: 'link.path+target', build: () => link({ path: `${base}-l-${name}`, target: v }) },
    { option: 'download.dest', build: () => download({ url: env.download.url, sha256: env.download.sha256, dest: `${base}-dl-${name}` }) },
    { option: 'download.sha256', build: () => download({ url: env.download.url, sha256: v, dest: `${base}-dls` }) },
    { option: 'user.name', build: () => user({ name: v }) },
    { option: 'user.comment+home+shell', build: () => user({ name: `righ${i}`, comment: v, home: `/home/righ${i}-${name}`, shell: '/bin/sh' }) },
    { option: 'user.groups', build: () => user({ name: `righ${i}`, groups: [v] }) },
    { option: 'group.name', build: () => group({ name: v }) },
    { option: 'authorizedKeys.keys', build: () => authorizedKeys({ user: `righ${i}`, keys: [`${env.keyLine} ${v}`] }) },
    { option: 'authorizedKeys.user', build: () => authorizedKeys({ user: v, keys: [env.keyLine] }) },
    { option: 'cron.env+command', build: () => cron({ name: `rigger-hostile-${i}`, schedule: '@yearly', env: { V: v }, command: sh`printf %s ${v} > ${`${base}-cron`}` }) },
    { option: 'cron.name', build: () => cron({ name: v, schedule: '@yearly', command: 'true' }) },
    { option: 'cron.schedule', build: () => cron({ name: `rigger-hostile-s${i}`, schedule: v, command: 'true' }) },
    { option: 'cron.user', build: () => cron({ name: `rigger-hostile-u${i}`, schedule: '@yearly', user: v, command: 'true' }) },
    { option: 'command.run(sh)+creates', build: () => command({ name: `hostile ${i}`, run: sh`printf %s ${v} > ${`${base}-cmd`}`, creates: `${base}-cmd` }) },
    { option: 'command.creates', build: () => command({ name: `hostile creates ${i}`, run: sh`touch -- ${`${base}-cr-${name}`}`, creates: `${base}-cr-${name}` }) },
    { option: 'service.unit', build: () => service({ unit: v, enabled: true }) },
    { option: 'aptPackages.packages', build: () => aptPackages({ packages: [v] }) },
    { option: 'aptPackages.version', build: () => aptPackages({ packages: [`hello=${v}`] }) },
    { option: 'aptPackages.env', build: () => aptPackages({ packages: ['hello'], env: { RIGGER_V: v } }) },
    { option: 'aptRepository.name', build: () => aptRepository({ name: v, uri: 'file:/srv/apt', suites: ['bookworm'], components: ['main'], keyUrl: 'file:/srv/k' }) },
    { option: 'aptRepository.uri', build: () => aptRepository({ name: `hostile${i}`, uri: v, suites: ['bookworm'], components: ['main'], keyUrl: 'file:/srv/k' }) },
    { option: 'aptRepository.keyUrl', build: () => aptRepository({ name: `hostile${i}`, uri: 'file:/srv/apt', suites: ['bookworm'], components: ['main'], keyUrl: v }) },
    { option: 'aptRepository.keyFingerprint', build: () => aptRepository({ name: `hostile${i}`, uri: 'file:/srv/apt', suites: ['bookworm'], components: ['main'], keyUrl: 'file:/srv/k', keyFingerprint: v }) },
  ];
  const out: HostileCatalogue = { accepted: [], refused: [] };
  for (const s of settings) {
    try {
      const r = s.build();
      out.accepted.push({ option: s.option, resources: Array.isArray(r) ? r : [r] });
    } catch (e: any) {
      out.refused.push({ option: s.option, error: e?.message ?? String(e) });
    }
  }
  return out;
}
