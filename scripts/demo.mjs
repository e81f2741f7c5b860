// One command to see larder work: starts the demo origin on 127.0.0.1:3000 and larder with
// ./rules.yaml, and stops both on Ctrl-C.
import { spawn } from 'node:child_process';

const children = [
  spawn(process.execPath, ['scripts/demo-origin.mjs', '3000'], { stdio: 'inherit' }),
  spawn(process.execPath, ['bin/larder.js', '--config', 'rules.yaml'], { stdio: 'inherit' }),
];
const stop = () => {
  for (const c of children) c.kill('SIGTERM');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
for (const c of children) c.on('exit', stop);
