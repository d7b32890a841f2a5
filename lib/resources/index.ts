// Every resource kind, one module each (probe / plan / apply).
export { file, writeAtomically, type FileOptions } from './file.js';
export { template, render, configEscape, type TemplateOptions } from './template.js';
export { directory, type DirectoryOptions } from './directory.js';
export { link, type LinkOptions } from './link.js';
export { aptPackages, type AptPackagesOptions } from './apt.js';
export { aptRepository, type AptRepositoryOptions } from './aptRepository.js';
export { service, serviceHandler, type ServiceOptions } from './service.js';
export { user, group, type UserOptions, type GroupOptions } from './user.js';
export { authorizedKeys, keyIdentity, type AuthorizedKeysOptions } from './authorizedKeys.js';
export { cron, type CronOptions } from './cron.js';
export { download, type DownloadOptions } from './download.js';
export { command, type CommandOptions } from './command.js';
export { raw, Script, sh, shellFile, shq, type ShellValue } from './shell.js';
