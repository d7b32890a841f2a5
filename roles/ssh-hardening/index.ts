// ssh-hardening: a drop-in /etc/ssh/sshd_config.d/00-rigger-hardening.conf
// (rendered from templates/hardening.conf.ejs) that turns off passwords,
// limits root to keys and restricts algorithms; every setting can be changed
// from the inventory (typed ssh_* vars, or any sshd keyword in ssh_settings;
// setting one keyword both ways to different values is an error).
//
// Order on a host:
//   1. lockout guard (plan only, before anything changes): sshd_config reads the
//      drop-in folder, the login user keeps a usable key where sshd will look,
//      sudo -n works for a non-root login user, PermitRootLogin no is refused
//      while rigger logs in as root, AllowUsers/AllowGroups/... keep it in;
//   2. the drop-in, checked with `sshd -t` as part of the FULL configuration
//      (a temp copy of sshd_config + drop-ins with the candidate in place of the
//      old one) before an atomic rename; a backup of the old one is kept;
//   3. `sshd -T` for the login user must show every setting in force (nothing
//      read earlier overrides it), or the host fails naming each setting
//      (linked `after` the drop-in: skipped in check mode while it would change).
//   handler "reload sshd": reload ssh.service (also when Debian 12's ssh.socket
//   started it); nothing to reload for inetd-style ssh.socket (Accept=yes);
//   then a NEW SSH connection must work, or the old drop-in is put back,
//   sshd reloaded again and the host fails.
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { defineRole, type Vars } from '../../lib/engine/types.js';
import { render } from '../../lib/resources/index.js';
import { effectiveConfigCheck, hardeningDropIn, lockoutGuard, reloadSshdHandler } from './resources.js';
import { resolveSettings, SETTING_VARS, type Settings } from './settings.js';

export { DROPIN, DROPIN_PREV, resolveSettings, compareEffective, parseSshdT, lockoutProblems } from './settings.js';

export const TEMPLATE = fileURLToPath(new URL('./templates/hardening.conf.ejs', import.meta.url));

const settingValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number()])), z.null()]);

export const varsSchema = z
  .looseObject({
    /** any sshd keyword -> value, merged over the defaults; null leaves a default out */
    ssh_settings: z.record(z.string(), settingValue).default({}),
    /** host key types clients have on file (checked by resolveSettings); HostKeyAlgorithms never drops one */
    ssh_host_key_types: z.array(z.string()).optional(),
    // The typed ssh_* vars (see SETTING_VARS) are checked by resolveSettings below.
    ...Object.fromEntries(Object.keys(SETTING_VARS).map((k) => [k, settingValue.optional()])),
  })
  .superRefine((v, ctx) => {
    for (const p of resolveSettings(v as Vars).problems) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
  });

export type SshHardeningVars = z.output<typeof varsSchema>;

/** The drop-in text for these settings. */
export function renderDropIn(settings: Settings): string {
  return render(TEMPLATE, { settings: [...settings] });
}

export default defineRole<SshHardeningVars>({
  name: 'ssh-hardening',
  vars: varsSchema,
  tasks({ vars, facts }) {
    const { settings, problems } = resolveSettings(vars as Vars, { opensshVersion: facts.opensshVersion });
    if (problems.length) throw new Error(`ssh-hardening: ${problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; ')}`);
    const dropIn = hardeningDropIn(renderDropIn(settings));
    return {
      resources: [lockoutGuard(settings, facts.loginUser), dropIn, effectiveConfigCheck(settings, facts.loginUser, dropIn)],
      handlers: [reloadSshdHandler()],
    };
  },
});
