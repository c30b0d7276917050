// Starts our built server (BENCH_OUR_SERVER_ENTRY, dist/server.js by default) inside this process.
//
// Why a launcher: the bench's server must not share its command line with the servers other
// people on the machine start and stop by name (`pkill -f dist/server.js` and the like); a run
// whose server got such a SIGTERM half-way measured nothing. The server is the same code either way.

import { pathToFileURL } from 'node:url';

await import(pathToFileURL(process.env.BENCH_OUR_SERVER_ENTRY).href);
