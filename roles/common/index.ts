// common: what every server gets. Base packages, the timezone when one is set
// for the host, optional hostname, admin users with their SSH keys and
// passwordless sudo, and unattended security upgrades.
import { z } from 'zod';
import { defineRole, type Change, type HostContext, type ProbeResult, type ShellResource as Resource } from '../../lib/engine/types.js';
import { aptPackages, authorizedKeys, command, file, keyIdentity, link, raw, Script, service, serviceHandler, sh, user } from '../../lib/resources/index.js';

export const DEFAULT_PACKAGES = ['ca-certificates', 'curl', 'gnupg', 'cron', 'sudo', 'unattended-upgrades'];
export const SUDOERS_FILE = '/etc/sudoers.d/90-rigger-admins';
export const AUTO_UPGRADES_FILE = '/etc/apt/apt.conf.d/20auto-upgrades';
const RESTART_CRON = 'restart cron';

const PACKAGE = /^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+~:-]+)?$/;
// IANA zone names: Etc/UTC, Europe/Paris, America/Argentina/Buenos_Aires, Etc/GMT+1, UTC
const TIMEZONE = /^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/;
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const USERNAME = /^[a-z_][a-z0-9_-]{0,31}$/;

const packageList = z.array(z.string().regex(PACKAGE, 'not a Debian package name (name or name=version)'));

export const adminUserSchema = z.strictObject({
  name: z.string().regex(USERNAME, 'not a valid user name (lowercase letters, digits, _ and -, starting with a letter or _)'),
  shell: z.string().regex(/^\/[^\s]*$/, 'expected an absolute path such as /bin/bash').default('/bin/bash'),
  /** member of group sudo, and passwordless sudo unless admin_sudo_nopasswd is false */
  sudo: z.boolean().default(true),
  keys: z.array(z.string().refine((k) => keyIdentity(k) !== null, 'not an SSH public key line ("ssh-ed25519 AAAA... comment")')).default([]),
  /** remove keys that are not listed (default: keep them) */
  exclusive_keys: z.boolean().default(false),
});
export type AdminUser = z.output<typeof adminUserSchema>;

export const varsSchema = z.looseObject({
  common_packages: packageList.default([...DEFAULT_PACKAGES]),
  common_extra_packages: packageList.default([]),
  /** run apt-get update before installing when the cache is older than this (seconds) */
  common_apt_cache_max_age: z.number().int().nonnegative().default(3600),
  timezone: z
    .string()
    .regex(TIMEZONE, 'expected a zone name such as "Etc/UTC" or "Europe/Paris"')
    .refine((t) => !t.split('/').includes('..'), 'expected a zone name such as "Etc/UTC"')
    // No default: changing a server's zone moves its cron jobs, so it is only done when asked for.
    .optional(),
  /** set only when given */
  hostname: z.string().regex(HOSTNAME, 'not a valid host name').optional(),
  admin_users: z
    .array(adminUserSchema)
    .default([])
    .superRefine((users, ctx) => {
      const seen = new Set<string>();
      users.forEach((u, i) => {
        if (seen.has(u.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `admin user ${u.name} is listed twice` });
        seen.add(u.name);
      });
    }),
  /** admins with sudo = true may sudo without a password (they log in with keys only, so they have none) */
  admin_sudo_nopasswd: z.boolean().default(true),
  /** install and enable unattended security upgrades */
  unattended_upgrades: z.boolean().default(true),
});
export type CommonVars = z.output<typeof varsSchema>;

export function autoUpgradesContent(enabled: boolean): string {
  const v = enabled ? '1' : '0';
  return `APT::Periodic::Update-Package-Lists "${v}";\nAPT::Periodic::Unattended-Upgrade "${v}";\n`;
}

export function sudoersContent(users: AdminUser[], nopasswd: boolean): string {
  const lines = [
    '# Managed by rigger (role common): admin_users with sudo = true.',
    '# They log in with SSH keys and have no password, so sudo must not ask for one.',
  ];
  if (nopasswd) for (const u of users.filter((x) => x.sudo)) lines.push(`${u.name} ALL=(ALL:ALL) NOPASSWD: ALL`);
  return lines.join('\n') + '\n';
}

/**
 * /etc/localtime -> /usr/share/zoneinfo/<zone>, refusing a zone that tzdata
 * does not have (a dangling link would silently mean UTC).
 */
export function localtimeLink(zone: string, notify: string[]): Resource {
  const zoneFile = `/usr/share/zoneinfo/${zone}`;
  const inner = link({ path: '/etc/localtime', target: zoneFile, tags: ['timezone'], notify });
  return {
    ...inner,
    probe: Script.join([raw(inner.probe), sh`if [ -f ${zoneFile} ]; then echo zone=ok; elif [ -d /usr/share/zoneinfo ]; then echo zone=unknown; else echo zone=notzdata; fi`]).text,
    plan(current: ProbeResult, ctx: HostContext): Change | null | Promise<Change | null> {
      const lines = current.stdout.trimEnd().split('\n');
      const state = lines.pop();
      if (state === 'zone=unknown') throw new Error(`unknown timezone "${zone}": ${zoneFile} does not exist on the host`);
      // In check mode tzdata may simply not be installed yet (the packages come first).
      if (state === 'zone=notzdata' && !ctx.check) throw new Error(`/usr/share/zoneinfo is missing although tzdata should be installed`);
      return inner.plan({ ...current, stdout: lines.join('\n') }, ctx);
    },
  };
}

export default defineRole<CommonVars>({
  name: 'common',
  vars: varsSchema,
  tasks({ vars: v, facts }) {
    const resources: Resource[] = [];
    const packages = [
      ...new Set([
        ...v.common_packages,
        ...v.common_extra_packages,
        ...(v.timezone !== undefined ? ['tzdata'] : []), // /usr/share/zoneinfo for the timezone below
        ...(v.unattended_upgrades ? ['unattended-upgrades'] : []),
        ...(v.admin_users.some((u) => u.sudo) ? ['sudo'] : []),
      ]),
    ];
    resources.push(aptPackages({ packages, cacheMaxAge: v.common_apt_cache_max_age, tags: ['packages'] }));

    // Timezone, only when set for the host (a server keeps its own otherwise, and
    // its cron jobs do not move): the link is what libc reads, /etc/timezone what Debian tools read.
    if (v.timezone !== undefined) {
      resources.push(localtimeLink(v.timezone, [RESTART_CRON]));
      resources.push(file({ path: '/etc/timezone', content: `${v.timezone}\n`, mode: '0644', tags: ['timezone'], notify: RESTART_CRON }));
    }

    if (v.hostname) {
      resources.push(file({ path: '/etc/hostname', content: `${v.hostname}\n`, mode: '0644', tags: ['hostname'] }));
      resources.push(
        command({
          name: 'set hostname',
          run: sh`hostname ${v.hostname}`,
          unless: sh`[ "$(hostname)" = ${v.hostname} ]`,
          tags: ['hostname'],
        }),
      );
    }

    for (const u of v.admin_users) {
      if (u.name === facts.loginUser && u.exclusive_keys && u.keys.length === 0)
        throw new Error(`admin_users: ${u.name} is the user rigger logs in as; exclusive_keys with no keys would remove its key and lock rigger out`);
      resources.push(user({ name: u.name, shell: u.shell, groups: u.sudo ? ['sudo'] : [], tags: ['users'] }));
      if (!u.sudo)
        resources.push(
          command({
            name: `${u.name} not in group sudo`,
            run: sh`gpasswd -d ${u.name} sudo >/dev/null`,
            onlyIf: sh`id -nG -- ${u.name} | tr ' ' '\\n' | grep -qx sudo`,
            tags: ['users'],
          }),
        );
      if (u.keys.length || u.exclusive_keys) resources.push(authorizedKeys({ user: u.name, keys: u.keys, exclusive: u.exclusive_keys, tags: ['users'] }));
    }
    // Always written (possibly with no grant), so removing an admin from the
    // inventory also removes their sudo rights.
    resources.push(
      file({
        path: SUDOERS_FILE,
        content: sudoersContent(v.admin_users, v.admin_sudo_nopasswd),
        mode: '0440',
        validate: 'visudo -cqf %s',
        tags: ['users'],
      }),
    );

    // Unattended upgrades: Debian's 50unattended-upgrades already limits them to
    // the security origins (origin=Debian,codename=${distro_codename}-security,
    // label=Debian-Security); 20auto-upgrades turns the daily run on. The apt
    // timers run it, so they must not be masked or stopped.
    resources.push(file({ path: AUTO_UPGRADES_FILE, content: autoUpgradesContent(v.unattended_upgrades), mode: '0644', tags: ['unattended-upgrades'] }));
    if (v.unattended_upgrades)
      for (const unit of ['apt-daily.timer', 'apt-daily-upgrade.timer'])
        resources.push(service({ unit, enabled: true, state: 'started', masked: false, tags: ['unattended-upgrades'] }));

    return { resources, handlers: [serviceHandler(RESTART_CRON, 'cron.service', 'try-restart')] };
  },
});
