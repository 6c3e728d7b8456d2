/**
 * Datasets for facial expression recognition as their users store them (RAF-DB, AffectNet, SFEW,
 * FER2013, any class-per-folder tree), a sharp-based image pipeline with the training augmentations
 * of the reference recipe (timm RandAugment, horizontal flip, random erasing, TenCrop), samplers, a
 * prefetching batch loader, and synthetic label noise.
 *
 * @example Load RAF-DB and iterate over training batches
 * ```ts ignore
 * import { DataLoader, openDataset, shuffleSampler } from "./mod.ts";
 * const train = await openDataset({ type: "rafdb", path: "/data/raf-basic", split: "train" });
 * const loader = new DataLoader(train, {
 *   batchSize: 64,
 *   // the RAF-DB training recipe (`pipelineOptions(config).train` of `experiments/run.ts` for a config)
 *   pipeline: {
 *     size: 112,
 *     randAugment: "rand-m5-n3-mstd0.5",
 *     hflip: 0.5,
 *     erasing: { p: 0.5, scale: [0.02, 0.25] },
 *   },
 *   sampler: shuffleSampler(train.size, { seed: 0 }),
 *   dropLast: true,
 * });
 * for await (const batch of loader.batches(0)) console.log(batch.shape);
 * ```
 *
 * @module
 */
export * from "./types.ts";
export * from "./classes.ts";
export * from "./views.ts";
export * from "./raf_db.ts";
export * from "./affectnet.ts";
export * from "./sfew.ts";
export * from "./image_folder.ts";
export * from "./fer2013.ts";
export * from "./ferplus.ts";
export * from "./open.ts";
export * from "./image.ts";
export * from "./transforms.ts";
export * from "./randaugment.ts";
export * from "./pipeline.ts";
export * from "./samplers.ts";
export * from "./loader.ts";
export * from "./label_noise.ts";
export { Random, type RandomState } from "../engine/random.ts";
