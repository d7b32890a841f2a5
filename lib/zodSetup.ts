// Imported first by lib/playbook.ts, before any module defines a schema: zod
// reads this when a schema is created. A run parses each schema a few times,
// so zod's JIT (a `new Function` compiled per object schema) costs more than it
// saves: measured 195 -> 169 ms for `runner.ts --list-tasks`.
import { z } from 'zod';

z.config({ jitless: true });
