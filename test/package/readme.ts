/**
 * Pulls the runnable snippets out of README.md: the fenced block after a
 * `<!-- readme-test: NAME -->` marker (the formatter puts a blank line between them) is saved as NAME
 * (`sh` blocks are run line by line), and the Install section's first `sh` block is returned so the
 * test can check it says what it replaces with the tarball.
 */
export interface Snippets {
  install: string[];
  files: { name: string; code: string }[];
  shell: string[];
}

const lines = (block: string) =>
  block.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));

export function readmeSnippets(readme: string): Snippets {
  const files: Snippets["files"] = [];
  const shell: string[] = [];
  for (const m of readme.matchAll(/<!-- readme-test: (\S+) -->\n+```\w*\n([\s\S]*?)\n```/g)) {
    if (m[1] === "sh") shell.push(...lines(m[2]!));
    else files.push({ name: m[1]!, code: m[2]! + "\n" });
  }
  const install = /## Install\n[\s\S]*?```sh\n([\s\S]*?)\n```/.exec(readme);
  return { install: install ? lines(install[1]!) : [], files, shell };
}
