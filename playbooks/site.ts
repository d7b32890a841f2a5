#!/usr/bin/env -S node ./lib/boot.cjs
// Every server gets the base roles: npx tsx playbooks/site.ts [--limit ...]
import { playbook } from '../lib/playbook.js';
import common from '../roles/common/index.js';
import sshHardening from '../roles/ssh-hardening/index.js';

export default playbook({ name: 'site', plays: [{ name: 'base', hosts: 'all', roles: [common, sshHardening] }] }, import.meta.url);
