// Locations inside the repository, independent of the working directory.

import { fileURLToPath } from 'node:url';
import { resolve, join } from 'node:path';

/** tests/interop/ */
export const INTEROP_DIR = resolve(fileURLToPath(new URL('..', import.meta.url)));
/** The repository root (three levels above lib/). */
export const REPO_ROOT = resolve(INTEROP_DIR, '..', '..');
/** tests/fixtures/ */
export const FIXTURES_DIR = join(REPO_ROOT, 'tests', 'fixtures');
