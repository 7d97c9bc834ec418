import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { commandPrefix, hintCommand, quoteForShell } from '../../src/cli/shell-hint.ts';

describe('printed commands paste as they are', () => {
  it('name the binary the way the person started Keel', () => {
    expect(commandPrefix({ npmScript: 'keel' })).toBe('npm run keel --');
    expect(commandPrefix({ npmScript: undefined })).toBe('keel');
    // npx and other scripts run the installed binary.
    expect(commandPrefix({ npmScript: 'npx' })).toBe('keel');
  });

  it('quote words so that a POSIX shell passes them unchanged', () => {
    const words = ['plain/path.db', "team's db.db", '$HOME `x` "y"', '', '…'];
    expect(quoteForShell('plain/path.db')).toBe('plain/path.db');
    const echoed = execFileSync('/bin/sh', ['-c', `printf '%s\\n' ${words.map(quoteForShell).join(' ')}`], { encoding: 'utf8' });
    expect(echoed.split('\n').slice(0, words.length)).toEqual(words);
  });

  it('carry the database in use, and none for the default', () => {
    expect(hintCommand({ prefix: 'keel', database: "/srv/team's.db" }, ['resume', 'ses_1'])).toBe(`keel resume ses_1 --db '/srv/team'\\''s.db'`);
    expect(hintCommand({ prefix: 'npm run keel --', database: undefined }, ['resume', 'ses_1'])).toBe('npm run keel -- resume ses_1');
  });
});
