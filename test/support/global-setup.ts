import { execFileSync } from 'node:child_process';

/** Process tests run the built server exactly as `npm start` does, so build it once first. */
export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
