/**
 * The `.dockerignore` rules as Docker applies them, enough to check this repository's file:
 * one pattern a line, `#` comments, `!` re-includes, `*` and `?` within one path segment, `**`
 * across segments, and a pattern that matches a folder excludes everything under it. The last
 * matching line wins.
 */
export function parseDockerignore(text: string): (file: string) => boolean {
  const rules = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const include = line.startsWith('!');
      const pattern = (include ? line.slice(1) : line).replace(/^\/+|\/+$/g, '');
      return { include, regex: globToRegExp(pattern) };
    });
  return (file) => {
    const segments = file.split('/');
    // The file itself or any folder above it: an excluded folder excludes its contents.
    const candidates = segments.map((_, index) => segments.slice(0, index + 1).join('/'));
    let excluded = false;
    for (const rule of rules) {
      if (candidates.some((candidate) => rule.regex.test(candidate))) excluded = !rule.include;
    }
    return excluded;
  };
}

function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const char = pattern[i] as string;
    if (char === '*' && pattern[i + 1] === '*') {
      // `**/` matches zero or more folders; a trailing `**` matches everything below.
      source += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += pattern[i + 2] === '/' ? 2 : 1;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}
