// --tags / --skip-tags: a resource carries its role's name plus its own tags.
export function selectedByTags(tags: string[], only: string[], skip: string[]): boolean {
  if (only.length && !tags.some((t) => only.includes(t)) && !only.includes('all')) return false;
  if (skip.some((t) => tags.includes(t))) return false;
  return true;
}
