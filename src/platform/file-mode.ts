/** File modes as people and chmod write them. */

/** The permission bits of `mode` (setuid, setgid and sticky too) as four octal digits: `0644`, `1777`. */
export function modeText(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}
