// Worker-thread entry of the fuzz attack: runs `attack` with the worker's data and posts
// the result back.
import { parentPort, workerData } from 'node:worker_threads'
import { attack } from './fuzzAttack.js'

parentPort?.postMessage(await attack(workerData))
