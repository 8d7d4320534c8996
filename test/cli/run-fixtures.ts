/**
 * What the `store run` / `env` tests store and the child they run: values
 * that quote badly in a shell (quotes, $, backquote, backslash, a newline),
 * and a child that prints the variables it sees whose value holds SECRET.
 */
export const VALUES: Record<string, string> = {
  'app/prod/db-password': 'pw-SECRET-one',
  'app/prod/api.key': `it's "quoted" $HOME \`x\` \\ back\nline two`,
  'app/prod/plain': 'SECRET-plain',
  'app/dev/db-password': 'dev-SECRET',
  other: 'other-SECRET',
};

export const PRINT_ENV = `const o={};for(const [k,v] of Object.entries(process.env)) if(k===k.toUpperCase() && /SECRET|quoted/.test(v)) o[k]=v; process.stdout.write(JSON.stringify(o))`;
