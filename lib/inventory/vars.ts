// Vars precedence: later layers replace earlier ones key by key (shallow, like Ansible's default).
import type { Vars } from '../engine/types.js';

export function mergeVars(...layers: (Vars | undefined)[]): Vars {
  return Object.assign({}, ...layers.filter(Boolean));
}
