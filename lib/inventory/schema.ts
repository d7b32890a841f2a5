// The shape of an inventory file, as a strict zod schema. Cross-references
// (groups, host_vars, cycles) are checked separately in references.ts.
import { z } from 'zod';
import { Problems, describe, valueAt } from './problems.js';

// YAML writes an empty table as `key:` (null); treat it like TOML's `[key]`.
const nullAsEmpty = (v: unknown) => (v === null ? {} : v);

function table<T extends z.core.$ZodLooseShape>(shape: T) {
  const keys = Object.keys(shape).join(', ');
  return z.preprocess(
    nullAsEmpty,
    z.strictObject(shape, {
      error: (iss) => (iss.code === 'unrecognized_keys' ? `one of the keys ${keys}` : 'a table'),
    }),
  );
}

const PORT = 'an integer from 1 to 65535';
const port = z.int({ error: PORT }).min(1, { error: PORT }).max(65535, { error: PORT });
const TIMEOUT = 'a positive number of seconds';
const timeout = z.number({ error: TIMEOUT }).positive({ error: TIMEOUT });
const text = z.string({ error: 'a non-empty string' }).min(1, { error: 'a non-empty string' });
const vars = z.preprocess(nullAsEmpty, z.record(z.string(), z.unknown(), { error: 'a table of vars' }));
const groupList = z.array(z.string({ error: 'a group name (string)' }), { error: 'a list of group names' });

const COUNT = 'a positive integer';
const count = z.int({ error: COUNT }).positive({ error: COUNT });

const connection = {
  port: port.optional(),
  user: text.optional(),
  private_key: text.optional(),
  known_hosts: text.optional(),
  connect_timeout: timeout.optional(),
  /** seconds one remote command may run before it is killed (a resource's own timeout wins) */
  command_timeout: timeout.optional(),
  /** seconds to wait for another rigger run's lock on the host */
  lock_timeout: timeout.optional(),
  /** keepalive interval in seconds, and how many may go unanswered (OpenSSH's ServerAliveInterval/CountMax) */
  server_alive_interval: timeout.optional(),
  server_alive_count_max: count.optional(),
};

const hostSchema = table({
  host: text.optional(),
  ...connection,
  groups: groupList.optional(),
  vars: vars.optional(),
});

const groupSchema = table({
  children: groupList.optional(),
  vars: vars.optional(),
});

export const inventorySchema = table({
  defaults: table({
    ...connection,
    secrets: text.optional(),
    /** the OpenSSH client config to read for Host blocks (default ~/.ssh/config when it exists); false: none */
    ssh_config: z.union([z.literal(false), text], { error: 'false or the path of an ssh config file' }).optional(),
  }).optional(),
  vars: vars.optional(),
  hosts: z.preprocess(nullAsEmpty, z.record(z.string(), hostSchema, { error: 'a table of hosts ([hosts])' })),
  groups: z.preprocess(nullAsEmpty, z.record(z.string(), groupSchema, { error: 'a table of groups' })).optional(),
  host_vars: z.preprocess(nullAsEmpty, z.record(z.string(), vars, { error: 'a table of host vars' })).optional(),
});

export type InventoryFile = z.output<typeof inventorySchema>;
export type HostLine = InventoryFile['hosts'][string];

/** Validates the shape; every problem goes to `problems`. Returns the data only when valid. */
export function validateShape(raw: unknown, problems: Problems): InventoryFile | undefined {
  const result = inventorySchema.safeParse(raw);
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.add([...issue.path, key], issue.message, 'an unknown key');
    } else {
      problems.add(issue.path, issue.message, describe(valueAt(raw, issue.path)));
    }
  }
  return undefined;
}
