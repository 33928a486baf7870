/** Checkpoints: the safetensors codec, files (atomic writes), models and optimizers. */
export { MAX_HEADER_BYTES, serialize, serializeAsync, deserialize, deserializeMetadata, type SerializeOptions } from "./safetensors.js";
export { save, load, saveModel, loadModel, type LoadModelOptions, type StateDictModel } from "./files.js";
export * from "./optimizer.js";
