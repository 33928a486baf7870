// Imported before @deltagrad/autograd by web_workers_test.ts: the wasm thread pool reads this when it starts.
(globalThis as { DELTAGRAD_WORKERS?: string }).DELTAGRAD_WORKERS = "web";
